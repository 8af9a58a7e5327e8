/**
 * The rules in force, loaded from a YAML file and reloaded when the file changes. An invalid
 * change keeps the previous rules in force; the problem is logged and shown in the status (the
 * admin health endpoint reports it). Replacing rules through the admin API goes through the same
 * validation and is written to the file atomically.
 */
import * as fs from 'fs';
import { ConfigError } from '../errors';
import * as path from 'path';
import type { Logger } from '../observability/logger';
import { parseRules, ruleReferenceProblems, RulesError, type RuleSet } from './schema';

export interface RulesStatus {
  file: string;
  loadedAt: string | undefined;
  rules: number;
  /** The last reload's problems, when the file on disk is invalid. */
  error: string | undefined;
}

export class RulesStore {
  private current: RuleSet | undefined;
  private text = '';
  private loadedAt: string | undefined;
  private error: string | undefined;
  private lastMtime = 0;

  constructor(
    readonly file: string,
    private readonly log: Logger,
  ) {}

  /** Loads the file; throws RulesError when it is invalid (at start: the node must not run without rules). */
  load(): RuleSet {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      throw new ConfigError(
        'AINODE_RULES_FILE',
        `cannot read ${this.file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const rules = parseRules(text, this.file);
    this.accept(rules, text);
    return rules;
  }

  get rules(): RuleSet {
    if (!this.current) throw new Error('rules not loaded');
    return this.current;
  }

  get source(): string {
    return this.text;
  }

  status(): RulesStatus {
    return { file: this.file, loadedAt: this.loadedAt, rules: this.current?.rules.length ?? 0, error: this.error };
  }

  private accept(rules: RuleSet, text: string): void {
    this.current = rules;
    this.text = text;
    this.loadedAt = new Date().toISOString();
    this.error = undefined;
    try {
      this.lastMtime = fs.statSync(this.file).mtimeMs;
    } catch {
      /* file gone: keep rules */
    }
  }

  /** Re-reads the file if it changed; keeps the previous rules if the new file is invalid. */
  reloadIfChanged(): void {
    let mtime: number;
    try {
      mtime = fs.statSync(this.file).mtimeMs;
    } catch (e) {
      this.fail(`cannot read ${this.file}: ${(e as Error).message}`);
      return;
    }
    if (mtime === this.lastMtime) return;
    this.lastMtime = mtime;
    const text = fs.readFileSync(this.file, 'utf8');
    if (text === this.text) return;
    try {
      const rules = parseRules(text, this.file);
      this.accept(rules, text);
      this.log.info({ file: this.file, rules: rules.rules.length }, 'rules reloaded');
    } catch (e) {
      this.fail(e instanceof RulesError ? e.problems.join('; ') : (e as Error).message);
    }
  }

  private fail(message: string): void {
    this.error = message;
    this.log.error({ file: this.file }, `rules file invalid, previous rules stay in force: ${message}`);
  }

  /** Validates and replaces the rules (admin API); written atomically, then in force. */
  /**
   * Replaces the rules file (atomically) after validation; with `models`, every model a rule
   * names must be one of them (the admin API passes the loaded packages).
   */
  replace(text: string, models?: ReadonlySet<string>): RuleSet {
    const rules = parseRules(text, 'rules');
    const unknown = models ? ruleReferenceProblems(rules, models) : [];
    if (unknown.length) throw new RulesError(unknown, 'rules');
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, this.file);
    this.accept(rules, text);
    return rules;
  }

  /** Polls the file for changes (fs.watch misses editors that replace files). */
  watch(intervalMs = 1000): () => void {
    const t = setInterval(() => this.reloadIfChanged(), intervalMs);
    t.unref();
    return () => clearInterval(t);
  }
}
