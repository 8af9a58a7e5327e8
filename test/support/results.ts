/** Counting what ainode delivered, as the PACS sees it (QIDO-RS). */
import { expect } from 'chai';
import type { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';

export async function resultCounts(
  client: DicomwebClient,
  study: string,
): Promise<{ seg: number; sr: number; segInstances: number; srInstances: number }> {
  const series = await client.search(`/studies/${study}/series`);
  const of = (m: string): string[] =>
    series.filter((s) => jsonString(s, Tag.Modality) === m).map((s) => jsonString(s, Tag.SeriesInstanceUID)!);
  const count = async (uids: string[]): Promise<number> => {
    let n = 0;
    for (const u of uids) n += (await client.search(`/studies/${study}/series/${u}/instances`)).length;
    return n;
  };
  return {
    seg: of('SEG').length,
    sr: of('SR').length,
    segInstances: await count(of('SEG')),
    srInstances: await count(of('SR')),
  };
}

export async function expectExactlyOneResult(client: DicomwebClient, study: string): Promise<void> {
  expect(await resultCounts(client, study), study).to.deep.equal({ seg: 1, sr: 1, segInstances: 1, srInstances: 1 });
}

export async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
