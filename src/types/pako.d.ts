// Minimal typings for the part of pako (a dependency of dcmjs, MIT) that src/dicom/structure.ts uses:
// streaming raw inflate, whose output arrives chunk by chunk so that it can be stopped.
declare module 'pako' {
  export class Inflate {
    constructor(options?: { raw?: boolean; chunkSize?: number });
    onData: (chunk: Uint8Array) => void;
    push(data: Uint8Array, finish?: boolean): boolean;
    err: number;
    msg: string;
  }
}
