/**
 * Issue 5: the dry run against a real Orthanc holding the chest CT and the brain MR, and hot
 * reload of the rules file in a running node (a valid change takes effect on the next study, an
 * invalid one changes nothing).
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import IORedis from 'ioredis';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';
import { niftiToMrSeries } from '../../src/convert/nifti-to-dicom';
import { readNifti } from '../../src/volume/nifti';
import type { RoutingDecision } from '../../src/rules/evaluate';
import { gatherStudyFacts } from '../../src/rules/study-facts';
import { OrthancChangesFeed } from '../../src/intake/orthanc-changes';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { reUid } from '../../scripts/support/reuid';
import { AINODE_BIN, REPO_ROOT, spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { BRAIN_T1_NIFTI, CHEST_CT_DIR, REDIS_URL, tempDir, uniquePrefix } from '../support/env';

describe('dry run on the live PACS, and hot reload', function () {
  this.timeout(240_000);
  let orthanc: OrthancProcess;
  let client: DicomwebClient;
  let dir: string;
  const ct = readDicomFolder(CHEST_CT_DIR);
  const bytes = fs.readFileSync(BRAIN_T1_NIFTI);
  const mr = niftiToMrSeries(bytes, readNifti(bytes), { seriesDescription: 'T1 MPRAGE (converted)' });
  const prefix = uniquePrefix('dryrun');

  before(async () => {
    dir = tempDir('dryrun');
    orthanc = await startOrthanc({ dir, stableAge: 2 });
    client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });
    await stowFiles(client, ct);
    for (let i = 0; i < mr.instances.length; i += 64)
      await client.store(mr.studyInstanceUid, mr.instances.slice(i, i + 64));
  });
  after(async () => orthanc?.stop());

  const dryRun = (study: string, json: boolean): string => {
    const r = spawnSync(
      process.execPath,
      [AINODE_BIN, 'rules', 'test', '--study', study, ...(json ? ['--json'] : [])],
      {
        env: {
          PATH: process.env.PATH ?? '',
          AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
          AINODE_REDIS_URL: REDIS_URL,
          AINODE_REDIS_PREFIX: prefix,
        },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(r.status, r.stderr).to.equal(0);
    return r.stdout;
  };

  it("routing facts with the positions from Orthanc's index equal those from QIDO-RS alone (chest CT and brain MR)", async () => {
    const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    try {
      const feed = new OrthancChangesFeed(orthanc.url, { username: undefined, password: undefined }, redis, prefix);
      for (const [study, series, count] of [
        [ct[0].studyInstanceUid, ct[0].seriesInstanceUid, 64],
        [mr.studyInstanceUid, mr.seriesInstanceUid, 256],
      ] as const) {
        const found = (await (await fetch(`${orthanc.url}/tools/lookup`, { method: 'POST', body: study })).json()) as {
          ID: string;
          Type: string;
        }[];
        const orthancId = found.find((f) => f.Type === 'Study')!.ID;
        const listed = await feed.instancePositions(orthancId);
        expect(listed!.get(series)).to.have.length(count);
        let asked = 0;
        const viaIndex = await gatherStudyFacts(
          client,
          study,
          [],
          [Tag.SeriesDescription],
          async () => (asked++, listed),
        );
        expect(asked).to.equal(1);
        expect(viaIndex).to.deep.equal(await gatherStudyFacts(client, study, [], [Tag.SeriesDescription]));
        // A source that cannot tell leaves routing to QIDO-RS.
        expect(await gatherStudyFacts(client, study, [], [], async () => undefined)).to.deep.equal(
          await gatherStudyFacts(client, study),
        );
      }
      expect(await feed.instancePositions('no-such-study')).to.equal(undefined);
    } finally {
      redis.disconnect();
    }
  });

  it('chest CT: the chest rule applies, chooses the CT series (axial, 5 mm, 64 slices) and would run ct-lung; the brain rule would not', () => {
    const d = JSON.parse(dryRun(ct[0].studyInstanceUid, true)) as RoutingDecision;
    const chest = d.rules.find((r) => r.rule === 'chest-ct-lungs')!;
    expect(chest.applies).to.equal(true);
    expect(chest.chosenSeries).to.equal(ct[0].seriesInstanceUid);
    const s = chest.series.find((x) => x.seriesInstanceUid === ct[0].seriesInstanceUid)!;
    expect(s.geometry.orientation).to.equal('axial');
    expect(s.geometry.sliceCount).to.equal(64);
    expect(s.geometry.sliceSpacingMm).to.be.closeTo(5, 1e-6);
    expect(s.geometry.inPlaneResolutionMm).to.be.closeTo(0.8418, 1e-3);
    expect(s.conditions.find((c) => c.condition.startsWith('BodyPartExamined'))!.outcome).to.equal('missing: match');
    expect(chest.models).to.deep.equal([{ modelId: 'ct-lung', runs: true, why: `runs on ${ct[0].seriesInstanceUid}` }]);
    const brain = d.rules.find((r) => r.rule === 'brain-t1-tissue')!;
    expect(brain.models[0].runs).to.equal(false);
    expect(brain.series[0].conditions[0]).to.deep.equal({ condition: 'Modality = MR', outcome: 'failed' });
    expect(d.jobs.map((j) => j.modelId)).to.deep.equal(['ct-lung']);
  });

  it('brain MR: the brain rule chooses the MR series (coronal, 1 mm, 256 slices) and would run mr-brain-tissue; the text report says so', async () => {
    const d = JSON.parse(dryRun(mr.studyInstanceUid, true)) as RoutingDecision;
    const brain = d.rules.find((r) => r.rule === 'brain-t1-tissue')!;
    expect(brain.chosenSeries).to.equal(mr.seriesInstanceUid);
    expect(brain.series[0].geometry).to.deep.include({ orientation: 'coronal', sliceCount: 256 });
    expect(brain.series[0].geometry.sliceSpacingMm).to.be.closeTo(1, 1e-6);
    expect(d.jobs.map((j) => j.modelId)).to.deep.equal(['mr-brain-tissue']);
    const text = dryRun(mr.studyInstanceUid, false);
    expect(text).to.match(/model mr-brain-tissue: WOULD RUN/);
    expect(text).to.match(/model ct-lung: would not run \(no series qualifies\)/);
    expect(text).to.match(/SeriesDescription matches \/t1\|mprage\|spgr\|tfl\|bravo\/i -> held/);
    // The dry run enqueued nothing: no key of this prefix exists in Redis.
    const redis = new IORedis(REDIS_URL);
    expect(await redis.keys(`${prefix}:*`)).to.deep.equal([]);
    redis.disconnect();
  });

  it('hot reload: a valid change takes effect on the next study; an invalid change keeps the rules in force', async () => {
    const rulesFile = path.join(dir, 'rules.yaml');
    const brainOnly = fs
      .readFileSync(path.join(REPO_ROOT, 'deploy', 'rules', 'default.yaml'), 'utf8')
      .replace(/ {2}- name: chest-ct-lungs[\s\S]*?(?= {2}- name: brain-t1-tissue)/, '');
    fs.writeFileSync(rulesFile, brainOnly);
    let node: AinodeProcess | undefined;
    try {
      node = spawnAinode(['start'], {
        AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
        AINODE_REDIS_URL: REDIS_URL,
        AINODE_REDIS_PREFIX: uniquePrefix('reload'),
        AINODE_RULES_FILE: rulesFile,
        AINODE_POLL_INTERVAL_MS: '300',
        AINODE_EXECUTION_PROVIDERS: 'cpu',
      });
      await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
      const a = reUid(ct, 'reload-a');
      await stowFiles(client, a);
      await node.waitForLog(
        new RegExp(`"studyInstanceUid":"${a[0].studyInstanceUid.replace(/\./g, '\\.')}".*no rule routes this study`),
        60_000,
      );

      fs.writeFileSync(rulesFile, fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'rules', 'default.yaml'), 'utf8'));
      await node.waitForLog(/rules reloaded/, 10_000);
      const b = reUid(ct, 'reload-b');
      await stowFiles(client, b);
      await node.waitForLog(
        new RegExp(`"studyInstanceUid":"${b[0].studyInstanceUid.replace(/\./g, '\\.')}".*results stored`),
        90_000,
      );

      fs.writeFileSync(rulesFile, 'version: 1\nrules:\n  - name: broken\n    modles: [x]\n');
      // Both problems of the misspelt field, in the file's order (a missing field has its rule's line).
      await node.waitForLog(
        /rules file invalid, previous rules stay in force: \/rules\/0\/models \(line 3\): is required; \/rules\/0\/modles \(line 4\): is not a known field/,
        10_000,
      );
      const c = reUid(ct, 'reload-c');
      await stowFiles(client, c);
      await node.waitForLog(
        new RegExp(`"studyInstanceUid":"${c[0].studyInstanceUid.replace(/\./g, '\\.')}".*results stored`),
        90_000,
      );

      const modalities = async (study: string): Promise<string[]> =>
        (await client.search(`/studies/${study}/series`)).map((s) => jsonString(s, Tag.Modality)!).sort();
      expect(await modalities(a[0].studyInstanceUid)).to.deep.equal(['CT']);
      expect(await modalities(b[0].studyInstanceUid)).to.deep.equal(['CT', 'SEG', 'SR']);
      expect(await modalities(c[0].studyInstanceUid)).to.deep.equal(['CT', 'SEG', 'SR']);
    } finally {
      await node?.stop();
    }
  });

  it('a rule with another DICOMweb destination sends the results there, not back to the source', async () => {
    const other = await startOrthanc({ dir: path.join(dir, 'other'), users: { research: 'research-secret-1' } });
    let node: AinodeProcess | undefined;
    try {
      const rulesFile = path.join(dir, 'rules-dest.yaml');
      fs.writeFileSync(
        rulesFile,
        `version: 1\ndestinations:\n  research:\n    url: ${other.dicomwebUrl}\n    usernameEnv: RESEARCH_USER\n    passwordEnv: RESEARCH_PASSWORD\nrules:\n  - name: chest-to-research\n    models: [ct-lung]\n    destination: research\n    priority: stat\n    series:\n      - attribute: Modality\n        equals: CT\n`,
      );
      node = spawnAinode(['start'], {
        AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
        AINODE_REDIS_URL: REDIS_URL,
        AINODE_REDIS_PREFIX: uniquePrefix('dest'),
        AINODE_RULES_FILE: rulesFile,
        AINODE_POLL_INTERVAL_MS: '300',
        AINODE_EXECUTION_PROVIDERS: 'cpu',
        RESEARCH_USER: 'research',
        RESEARCH_PASSWORD: 'research-secret-1',
      });
      await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
      const d = reUid(ct, 'destination');
      await stowFiles(client, d);
      await node.waitForLog(
        new RegExp(`"studyInstanceUid":"${d[0].studyInstanceUid.replace(/\./g, '\\.')}".*results stored`),
        90_000,
      );
      const otherClient = new DicomwebClient({
        url: other.dicomwebUrl,
        username: 'research',
        password: 'research-secret-1',
        timeoutMs: 30_000,
      });
      const there = (await otherClient.search(`/studies/${d[0].studyInstanceUid}/series`))
        .map((s) => jsonString(s, Tag.Modality))
        .sort();
      const here = (await client.search(`/studies/${d[0].studyInstanceUid}/series`))
        .map((s) => jsonString(s, Tag.Modality))
        .sort();
      expect(there).to.deep.equal(['SEG', 'SR']);
      expect(here).to.deep.equal(['CT']);
      expect(node.lines.join('\n')).to.not.include('research-secret-1');
    } finally {
      await node?.stop();
      await other.stop();
    }
  });
});
