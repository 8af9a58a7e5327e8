/**
 * The viewer gateway's allow-list (src/viewer/dicomweb-routes.ts) as a pure function: the
 * requests OHIF makes pass and are rebuilt; everything else is refused with its reason. The
 * gateway as deployed is attacked in test/security/viewer-gateway.test.ts.
 */
import { expect } from 'chai';
import { GatewayRefusal, parseGatewayRequest } from '../../src/viewer/dicomweb-routes';

const S = '1.2.826.0.1.3680043.8.498.1';
const SE = '1.2.826.0.1.3680043.8.498.2';
const I = '1.2.826.0.1.3680043.8.498.3';

function refusal(method: string, target: string): string {
  try {
    parseGatewayRequest(method, target);
  } catch (e) {
    expect(e).to.be.instanceOf(GatewayRefusal);
    return (e as GatewayRefusal).reason;
  }
  throw new Error(`${method} ${target} was let through`);
}

describe('viewer gateway: the allow-list of DICOMweb reads', () => {
  it("OHIF's requests pass, rebuilt from their parts", () => {
    const cases: [string, string, string][] = [
      [
        `/dicom-web/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060`,
        'search',
        '/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060',
      ],
      [
        `/dicom-web/studies?PatientName=*doe*&StudyDate=20200101-20201231&ModalitiesInStudy=CT`,
        'search',
        '/studies?PatientName=*doe*&StudyDate=20200101-20201231&ModalitiesInStudy=CT',
      ],
      [`/dicom-web/studies?00100020=MRN%201`, 'search', '/studies?00100020=MRN%201'],
      [`/dicom-web/studies/${S}/series`, 'search', `/studies/${S}/series`],
      [`/dicom-web/studies/${S}/series/${SE}/metadata`, 'retrieve', `/studies/${S}/series/${SE}/metadata`],
      [
        `/dicom-web/studies/${S}/series/${SE}/instances/${I}/frames/1,2,3`,
        'retrieve',
        `/studies/${S}/series/${SE}/instances/${I}/frames/1,2,3`,
      ],
      [
        `/dicom-web/studies/${S}/series/${SE}/instances/${I}/bulk/7fe00010`,
        'retrieve',
        `/studies/${S}/series/${SE}/instances/${I}/bulk/7fe00010`,
      ],
      [
        `/dicom-web/studies/${S}/series/${SE}/instances/${I}/bulk/00540016/0/00181074`,
        'retrieve',
        `/studies/${S}/series/${SE}/instances/${I}/bulk/00540016/0/00181074`,
      ],
      [
        `/dicom-web/studies/${S}/series/${SE}/thumbnail?viewport=128,128`,
        'rendered',
        `/studies/${S}/series/${SE}/thumbnail?viewport=128%2C128`,
      ],
      [`/dicom-web/studies/${S}`, 'retrieve', `/studies/${S}`],
    ];
    for (const [target, kind, rebuilt] of cases) {
      const r = parseGatewayRequest('GET', target);
      expect(r.kind, target).to.equal(kind);
      expect(`${r.path}${r.query ? `?${r.query}` : ''}`, target).to.equal(rebuilt);
    }
    expect(parseGatewayRequest('HEAD', `/dicom-web/studies/${S}/metadata`).kind).to.equal('retrieve');
  });

  it('refuses with the reason: traversal, encoded separators, other hosts, method overrides, other routes', () => {
    const cases: [string, string, string][] = [
      ['GET', '/dicom-web/..%2f..%2fpatients/x?_method=DELETE', 'encoded-separator'],
      ['GET', '/dicom-web/../system', 'path-traversal'],
      ['GET', '/dicom-web/%2e%2e/system', 'path-traversal'],
      ['GET', '/dicom-web/..\\system', 'backslash'],
      ['GET', '/dicom-web//evil:8080/x', 'empty-segment'],
      ['GET', 'http://evil:8080/dicom-web/studies', 'absolute-form'],
      ['GET', '/dicom-web/%252e%252e/system', 'encoded-path'],
      ['GET', `/dicom-web/studies/${S}?_method=DELETE`, 'method-override'],
      ['GET', `/dicom-web/studies?X-HTTP-Method-Override=PUT`, 'method-override'],
      ['GET', '/dicom-web/studies?Foo=1', 'bad-query'],
      ['GET', `/dicom-web/studies/${S}/metadata?limit=1`, 'bad-query'],
      ['GET', '/dicom-web/studies?limit=-1', 'bad-query'],
      ['GET', '/dicom-web/studies?PatientName=%2525', 'bad-query'],
      ['GET', '/dicom-web/studies?PatientName=%E0%A4%A', 'bad-query'],
      ['GET', '/dicom-web/tools/reset', 'not-a-route'],
      ['GET', '/dicom-web/studies/01.2/series', 'not-a-route'],
      ['GET', `/dicom-web/studies/${S}/series/${SE}/instances/${I}/frames/0`, 'not-a-route'],
      ['GET', '/dicom-web', 'not-a-route'],
      ['GET', '/system', 'not-a-route'],
      ['DELETE', `/dicom-web/studies/${S}`, 'not-a-route'],
      ['POST', '/dicom-web/studies', 'not-a-route'],
    ];
    for (const [method, target, reason] of cases)
      expect(refusal(method, target), `${method} ${target}`).to.equal(reason);
  });
});
