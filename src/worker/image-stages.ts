/**
 * The stages of a job for a model on 2D images (classification and detection):
 * check -> retrieveDecode (each instance parsed as it arrives, its pixel module checked) ->
 * inference (every frame read as the manifest's image input says, fitted, run, decoded) ->
 * encode (the TID 1500 report) -> store. A series or study level model combines its images'
 * probabilities into one result.
 */
import { AinodeError } from '../errors';
import { attributesAsJson, readPart10, type NaturalDataset } from '../dicom/part10';
import { evaluateAttribute } from '../rules/evaluate';
import type { Rule } from '../rules/schema';
import { checkPixelModule, initCodecs, isSupportedTransferSyntax, pixelFormat } from '../dicom/pixel-data';
import { pickPatientStudy } from '../dicom/study-attributes';
import { Tag, jsonString } from '../dicom/json';
import { DEFAULT_MAX_FRAME_PIXELS, DEFAULT_MAX_VOXELS } from '../dicom/structure';
import { readPlanarImage } from '../image/planar-image';
import { imageNotAccepted } from '../contracts/acceptance';
import { imageInput, runImageModel } from '../inference/image-model';
import { aggregate, decide, probabilities } from '../inference/classify';
import { decodeDetections } from '../inference/detect';
import { buildClassificationResults } from '../results/classification-results';
import type { FrameRef } from '../results/image-reports';
import { buildDetectionResults } from '../results/detection-results';
import type { StagePeaks } from '../observability/memory';
import { checkDelivered, storeResults, type JobContext, type JobOutcome, type StageDef } from './stages';

/** Why a rule's image conditions leave this image out (a condition failed, or met a missing attribute without match). */
function ruleRefusal(rule: Rule | undefined, dataset: NaturalDataset): string | undefined {
  if (!rule) return undefined;
  const json = attributesAsJson(dataset);
  for (const c of rule.images) {
    const outcome = evaluateAttribute(c, json);
    if (outcome !== 'held' && outcome !== 'missing: match') return `rule ${rule.name}: ${c.keyword} ${outcome}`;
  }
  return undefined;
}

const retrieveImages: StageDef = {
  name: 'retrieveDecode',
  progress: { stage: 'retrieve', percent: 10 },
  async run(ctx) {
    const { deps, job } = ctx;
    await initCodecs();
    const limits = {
      maxVoxels: deps.maxVoxels ?? DEFAULT_MAX_VOXELS,
      maxFramePixels: deps.maxFramePixels ?? DEFAULT_MAX_FRAME_PIXELS,
    };
    const images: NonNullable<JobContext['images']> = (ctx.images = []);
    const skipped: string[] = [];
    // The rule's conditions on images (rules file: `images:`), as in force now.
    const rule = job.rule ? deps.rules?.rules.rules.find((r) => r.name === job.rule) : undefined;
    const imageRule = rule && rule.images.length ? rule : undefined;
    let pixels = 0;
    // A study-level model reads every series of the study it accepts (the routed one first).
    const series = [job.seriesInstanceUid];
    if (ctx.pkg.manifest.level === 'study') {
      const all = await deps.client.search(`/studies/${job.studyInstanceUid}/series`);
      for (const s of all) {
        const uid = jsonString(s, Tag.SeriesInstanceUID);
        if (
          uid &&
          uid !== job.seriesInstanceUid &&
          ctx.pkg.manifest.accepts.modality.includes(jsonString(s, Tag.Modality) ?? '')
        )
          series.push(uid);
      }
    }
    // The ledger records the routed series' instance count: the intake compares it with the
    // series' count to tell a changed input (counting the other series too would re-run forever).
    ctx.instances = 0;
    for (const seriesInstanceUid of series) {
      const n = await (deps.retriever ?? deps.client).retrieveSeriesStreaming(
        job.studyInstanceUid,
        seriesInstanceUid,
        (part10) => {
          const { dataset, transferSyntaxUid } = readPart10(part10, limits);
          if (dataset.PixelData === undefined) return; // not an image (a presentation state, say)
          if (!isSupportedTransferSyntax(transferSyntaxUid))
            throw new AinodeError('PIXEL_DATA_UNSUPPORTED', `transfer syntax ${transferSyntaxUid} is not supported`, {
              retryable: false,
            });
          const f = pixelFormat(dataset);
          const why =
            ruleRefusal(imageRule, dataset) ??
            imageNotAccepted(ctx.pkg.manifest.accepts, {
              viewPosition: dataset.ViewPosition as string | undefined,
              laterality: (dataset.ImageLaterality ?? dataset.Laterality) as string | undefined,
              rows: f.rows,
              columns: f.columns,
            });
          if (why) {
            skipped.push(why);
            return;
          }
          checkPixelModule(dataset, f, transferSyntaxUid, limits.maxFramePixels, true);
          pixels += f.rows * f.columns * f.frames;
          if (pixels > limits.maxVoxels)
            throw new AinodeError(
              'DICOM_INPUT_TOO_LARGE',
              `the series' images hold more than ${limits.maxVoxels} pixels`,
              {
                retryable: false,
                hint: 'raise AINODE_MAX_VOXELS if this is a genuine series',
              },
            );
          images.push({
            dataset,
            transferSyntaxUid,
            ref: { sopClassUid: String(dataset.SOPClassUID), sopInstanceUid: String(dataset.SOPInstanceUID) },
            frames: f.frames,
            seriesInstanceUid,
          });
        },
      );
      if (seriesInstanceUid === job.seriesInstanceUid) ctx.instances = n;
    }
    if (skipped.length) ctx.log.info({ skipped }, `${skipped.length} image(s) of the series left out`);
    if (images.length === 0)
      throw new AinodeError(
        skipped.length ? 'SERIES_NOT_ACCEPTED' : 'SERIES_NOT_FOUND',
        skipped.length
          ? `no image of the series is for ${ctx.pkg.manifest.id}: ${skipped[0]}`
          : 'the series holds no images',
        { retryable: false },
      );
    if (images.some((i) => String(i.dataset.StudyInstanceUID) !== job.studyInstanceUid))
      throw new AinodeError('SERIES_NOT_FOUND', 'the retrieved series belongs to another study', { retryable: false });
    // The order the PACS sent them in is not the order of the series: by instance number, then UID.
    images.sort(
      (a, b) =>
        Number(a.dataset.InstanceNumber ?? 0) - Number(b.dataset.InstanceNumber ?? 0) ||
        (a.ref.sopInstanceUid < b.ref.sopInstanceUid ? -1 : 1),
    );
  },
};

const runImageModels: StageDef = {
  name: 'inference',
  progress: { stage: 'inference', percent: 45 },
  async run(ctx) {
    const { manifest } = ctx.pkg;
    const spec = manifest.image!;
    if (spec.views) return multiView(ctx);
    const images = ctx.images!;
    ctx.loaded = await ctx.deps.session(ctx.pkg);
    ctx.log.info({ images: images.length }, 'inference started');
    const detection = manifest.task === 'detection';
    const classified: NonNullable<JobContext['classified']> = (ctx.classified = []);
    const detected: NonNullable<JobContext['detected']> = (ctx.detected = []);
    const rows: Float64Array[] = [];
    let model = 0;
    let prepare = 0;
    for (const img of images)
      for (let frame = 0; frame < img.frames; frame++) {
        const t0 = performance.now();
        const planar = readPlanarImage(img.dataset, img.transferSyntaxUid, frame, {
          voi: spec.voi,
          maxFramePixels: ctx.deps.maxFramePixels ?? DEFAULT_MAX_FRAME_PIXELS,
        });
        const input = imageInput(planar, spec, manifest.preprocess);
        const t1 = performance.now();
        const outputs = await runImageModel(ctx.pkg, ctx.loaded, input);
        model += performance.now() - t1;
        prepare += t1 - t0;
        const ref: FrameRef = img.frames > 1 ? { ...img.ref, frameNumber: frame + 1 } : img.ref;
        if (detection) {
          detected.push({
            image: ref,
            detections: decodeDetections(outputs, manifest.detection!, manifest.classes, input.transform),
            rows: planar.rows,
            columns: planar.columns,
            spacing: planar.spacing,
            ...(planar.spacingNote ? { spacingNote: planar.spacingNote } : {}),
          });
          continue;
        }
        const out = outputs.get(manifest.output.name);
        if (!out)
          throw new AinodeError('MODEL_RUN_FAILED', `${manifest.id}: no output named ${manifest.output.name}`, {
            retryable: false,
          });
        const p = probabilities(out.data, manifest.classification!.activation);
        rows.push(p);
        classified.push({
          image: ref,
          findings: decide(p, manifest.classes),
          rows: planar.rows,
          columns: planar.columns,
          spacing: planar.spacing,
        });
      }
    if (!detection && manifest.level !== 'image')
      ctx.combined = {
        findings: decide(aggregate(rows, manifest.classification!.aggregate ?? 'max'), manifest.classes),
        images: classified.map((c) => c.image),
      };
    ctx.timings.preprocess = Math.round(prepare);
    ctx.timings.model = Math.round(model);
  },
};

/**
 * A multi-view model: the study's image of each declared view (ViewPosition and laterality) as
 * one grey channel of a single input, one run, one study-level result inferred from all of them.
 */
async function multiView(ctx: JobContext): Promise<void> {
  const { manifest } = ctx.pkg;
  const spec = manifest.image!;
  const up = (v: unknown): string =>
    String(v ?? '')
      .trim()
      .toUpperCase();
  const chosen = spec.views!.map((v) => {
    const img = ctx.images!.find(
      (i) =>
        up(i.dataset.ViewPosition) === up(v.viewPosition) &&
        up(i.dataset.ImageLaterality ?? i.dataset.Laterality) === up(v.laterality),
    );
    if (!img)
      throw new AinodeError(
        'SERIES_NOT_ACCEPTED',
        `the study has no ${v.laterality} ${v.viewPosition} image, which ${manifest.id} needs (its views: ${spec.views!.map((x) => `${x.laterality} ${x.viewPosition}`).join(', ')})`,
        { retryable: false, hint: 'a study with every view is classified; this one is not' },
      );
    return img;
  });
  ctx.loaded = await ctx.deps.session(ctx.pkg);
  ctx.log.info({ images: chosen.length }, 'inference started');
  const t0 = performance.now();
  const planes = chosen.map((img) => {
    const planar = readPlanarImage(img.dataset, img.transferSyntaxUid, 0, {
      voi: spec.voi,
      maxFramePixels: ctx.deps.maxFramePixels ?? DEFAULT_MAX_FRAME_PIXELS,
    });
    return { img, planar, input: imageInput(planar, { ...spec, colour: 'grey' }, manifest.preprocess) };
  });
  const plane = spec.size[0] * spec.size[1];
  const data = new Float32Array(planes.length * plane);
  planes.forEach((p, c) => data.set(p.input.data, c * plane));
  const t1 = performance.now();
  const outputs = await runImageModel(ctx.pkg, ctx.loaded, {
    data,
    channels: planes.length,
    transform: planes[0].input.transform,
  });
  ctx.timings.preprocess = Math.round(t1 - t0);
  ctx.timings.model = Math.round(performance.now() - t1);
  const out = outputs.get(manifest.output.name);
  if (!out)
    throw new AinodeError('MODEL_RUN_FAILED', `${manifest.id}: no output named ${manifest.output.name}`, {
      retryable: false,
    });
  const findings = decide(probabilities(out.data, manifest.classification!.activation), manifest.classes);
  ctx.combined = { findings, images: planes.map((p) => p.img.ref) };
  // The viewer shows the study's result on each view.
  ctx.classified = planes.map((p) => ({
    image: p.img.ref,
    findings,
    rows: p.planar.rows,
    columns: p.planar.columns,
    spacing: p.planar.spacing,
  }));
  ctx.detected = [];
}

const encodeImageResults: StageDef = {
  name: 'encode',
  progress: { stage: 'encode', percent: 80 },
  async run(ctx) {
    const images = ctx.images!;
    const patientStudy = pickPatientStudy(images[0].dataset);
    const inSeries = (uid: string): (typeof images)[number]['ref'][] =>
      images.filter((i) => i.seriesInstanceUid === uid).map((i) => i.ref);
    const others = [...new Set(images.map((i) => i.seriesInstanceUid))].filter((u) => u !== ctx.job.seriesInstanceUid);
    // The routed series is the report's source, unless none of its images were used.
    const all = [ctx.job.seriesInstanceUid, ...others].filter((u) => inSeries(u).length > 0);
    const source = {
      seriesInstanceUid: all[0],
      instances: inSeries(all[0]),
      others: all.slice(1).map((u) => ({ seriesInstanceUid: u, instances: inSeries(u) })),
    };
    const built =
      ctx.pkg.manifest.task === 'detection'
        ? buildDetectionResults(ctx.job, ctx.pkg.manifest, patientStudy, source, ctx.detected!, ctx.profiles)
        : buildClassificationResults(
            ctx.job,
            ctx.pkg.manifest,
            patientStudy,
            source,
            ctx.classified!,
            ctx.combined,
            ctx.profiles,
          );
    ctx.objects = { reports: built.reports };
    ctx.timings.srEncode = Math.round(built.timingsMs.srEncode);
    ctx.images = undefined; // the parsed instances are not read again
  },
};

/** The stages of a 2D image job, in order. */
export const IMAGE_STAGES: StageDef[] = [
  checkDelivered,
  retrieveImages,
  runImageModels,
  encodeImageResults,
  storeResults,
];

/** The outcome of a 2D image job, logged and returned (probabilities, no patient data). */
export function imageOutcome(ctx: JobContext, peaks: StagePeaks): JobOutcome {
  const reports = ctx.objects!.reports;
  const findings = ctx.combined?.findings ?? ctx.classified!.flatMap((c) => c.findings);
  const summary = ctx.detected!.length
    ? ctx.detected!.map((d, i) => `image ${i + 1}: ${d.detections.length} finding(s)`)
    : findings.map((f) => `${f.class.name}: ${f.outcome} (${Math.round(f.probability * 1000) / 1000})`);
  ctx.log.info(
    {
      provider: ctx.loaded!.provider,
      images: ctx.classified!.length,
      findings: summary,
      timingsMs: ctx.timings,
      peakRssMb: peaks.peaksMb,
    },
    'results stored',
  );
  return {
    status: 'delivered',
    srSeriesInstanceUid: reports[0].seriesInstanceUid,
    reportSeriesInstanceUids: reports.map((r) => r.seriesInstanceUid),
    findings: summary,
    timingsMs: ctx.timings,
    peakRssMb: peaks.peaksMb,
  };
}
