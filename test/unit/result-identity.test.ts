/**
 * The result identity (src/contracts/result-identity.ts), derived once: job id, output UIDs,
 * series numbers and descriptions per result version, and the two delivery questions the intake
 * and the worker ask of the ledger.
 */
import { expect } from 'chai';
import { inferenceJobId } from '../../src/contracts/job';
import { isDelivered, nextResultVersion, outputUids, resultIdentity } from '../../src/contracts/result-identity';

const key = { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', modelId: 'ct-lung', modelVersion: '1.0.0' };
const base = { seg: 9001, sr: 9002 };
const model = { id: 'ct-lung', version: '1.0.0' };

describe('contracts: the result identity', () => {
  it('version 1: the job id, UIDs, numbers and descriptions of the first result', () => {
    const id = resultIdentity(key);
    expect(id.resultVersion).to.equal(1);
    expect(id.jobId).to.equal('1.2.3_ct-lung_1.0.0').and.equal(inferenceJobId(key));
    expect(id.uids).to.deep.equal(outputUids(key));
    expect([
      id.seriesNumber('seg', base),
      id.seriesNumber('sr', base),
      id.seriesNumber('viewer-sr', base),
    ]).to.deep.equal([9001, 9002, 9003]);
    expect(['seg', 'sr', 'viewer-sr'].map((k) => id.seriesDescription(k as 'seg', model))).to.deep.equal([
      'AI ct-lung 1.0.0',
      'AI ct-lung 1.0.0 measurements',
      'AI ct-lung 1.0.0 key slices',
    ]);
  });

  it('version 2: its own job id, UIDs, series numbers 100 higher and "run 2" in every description', () => {
    const one = resultIdentity(key);
    const two = resultIdentity({ ...key, resultVersion: 2 });
    expect(two.jobId).to.equal('1.2.3_ct-lung_1.0.0_r2');
    for (const k of Object.keys(one.uids) as (keyof typeof one.uids)[])
      if (k !== 'observer') expect(two.uids[k], k).to.not.equal(one.uids[k]);
    expect(two.uids.observer, 'the same model version is the same observer').to.equal(one.uids.observer);
    expect(two.seriesNumber('sr', base)).to.equal(9102);
    expect(two.seriesDescription('viewer-sr', model)).to.equal('AI ct-lung 1.0.0 key slices run 2');
  });

  it('the intake runs a first result, none while the input is unchanged, the next version when it changed', () => {
    expect(nextResultVersion(undefined, { seriesInstanceUid: 's1' })).to.equal(1);
    const d = { seriesInstanceUid: 's1', resultVersion: 1, inputInstances: 64 };
    expect(nextResultVersion(d, { seriesInstanceUid: 's1', instances: 64 })).to.equal(undefined);
    expect(nextResultVersion(d, { seriesInstanceUid: 's1' }), 'count unknown: unchanged').to.equal(undefined);
    expect(nextResultVersion(d, { seriesInstanceUid: 's1', instances: 65 })).to.equal(2);
    expect(nextResultVersion(d, { seriesInstanceUid: 's2', instances: 64 })).to.equal(2);
    expect(nextResultVersion({ ...d, resultVersion: 3 }, { seriesInstanceUid: 's2' })).to.equal(4);
  });

  it('the worker skips a job whose version (or a later one) is delivered', () => {
    expect(isDelivered(undefined, {})).to.equal(false);
    expect(isDelivered({ seriesInstanceUid: 's', resultVersion: 1 }, {})).to.equal(true);
    expect(isDelivered({ seriesInstanceUid: 's', resultVersion: 1 }, { resultVersion: 2 })).to.equal(false);
    expect(isDelivered({ seriesInstanceUid: 's', resultVersion: 3 }, { resultVersion: 2 })).to.equal(true);
    expect(isDelivered({ seriesInstanceUid: 's' }, {}), 'a record without a version is version 1').to.equal(true);
  });
});
