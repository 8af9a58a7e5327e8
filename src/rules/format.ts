/** The dry run as text for the command line. */
import type { RoutingDecision } from './evaluate';

export function formatDecision(d: RoutingDecision): string {
  const lines: string[] = [`study ${d.studyInstanceUid}`];
  for (const r of d.rules) {
    lines.push('', `rule ${r.rule}${r.enabled ? '' : ' (disabled)'}: ${r.applies ? 'applies' : 'does not apply'}; priority ${r.priority}; results to ${r.destination}`);
    for (const c of r.studyConditions) lines.push(`  study: ${c.condition} -> ${c.outcome}`);
    for (const s of r.series) {
      lines.push(`  series ${s.seriesInstanceUid} (${s.modality}): ${s.skipped ? 'skipped' : s.qualifies ? 'qualifies' : 'does not qualify'}${s.seriesInstanceUid === r.chosenSeries ? '  <- chosen' : ''}`);
      for (const c of s.conditions) lines.push(`    ${c.condition} -> ${c.outcome}`);
    }
    for (const m of r.models) lines.push(`  model ${m.modelId}: ${m.runs ? 'WOULD RUN' : 'would not run'} (${m.why})`);
  }
  lines.push('', d.jobs.length ? `would enqueue: ${d.jobs.map((j) => `${j.modelId} on ${j.seriesInstanceUid} (rule ${j.rule})`).join('; ')}` : 'would enqueue nothing', '');
  return lines.join('\n');
}
