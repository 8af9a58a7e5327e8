/** The dry run as text for the command line. */
import type { RoutingDecision } from './evaluate';

export function formatDecision(d: RoutingDecision): string {
  const lines: string[] = [`study ${d.studyInstanceUid}`];
  for (const r of d.rules) {
    lines.push(
      '',
      `rule ${r.rule}${r.enabled ? '' : ' (disabled)'}: ${r.applies ? 'applies' : 'does not apply'}; priority ${r.priority}; results to ${r.destination}`,
    );
    for (const c of r.studyConditions) lines.push(`  study: ${c.condition} -> ${c.outcome}`);
    for (const s of r.series) {
      const g = s.geometry;
      const geo = [
        g.orientation,
        g.sliceSpacingMm !== undefined ? `${+g.sliceSpacingMm.toFixed(3)} mm apart` : undefined,
        `${g.sliceCount} slices`,
        g.inPlaneResolutionMm !== undefined ? `${+g.inPlaneResolutionMm.toFixed(3)} mm pixels` : undefined,
      ]
        .filter(Boolean)
        .join(', ');
      lines.push(
        `  series ${s.seriesInstanceUid} (${s.modality}; ${geo}): ${s.skipped ? 'skipped' : s.qualifies ? 'qualifies' : 'does not qualify'}${s.seriesInstanceUid === r.chosenSeries ? '  <- chosen' : ''}`,
      );
      for (const c of s.conditions) lines.push(`    ${c.condition} -> ${c.outcome}`);
    }
    for (const m of r.models) lines.push(`  model ${m.modelId}: ${m.runs ? 'WOULD RUN' : 'would not run'} (${m.why})`);
  }
  lines.push(
    '',
    d.jobs.length
      ? `would enqueue: ${d.jobs.map((j) => `${j.modelId} on ${j.seriesInstanceUid} (rule ${j.rule})`).join('; ')}`
      : 'would enqueue nothing',
    '',
  );
  return lines.join('\n');
}
