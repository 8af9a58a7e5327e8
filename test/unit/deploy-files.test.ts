/**
 * The deployment files (deploy/compose, deploy/kubernetes, the Dockerfiles) checked against what
 * ainode actually reads. There is no Docker engine or cluster here, so nothing is run: the
 * files are parsed, every ainode container's environment is fed to the real config loaders,
 * and images, ports, volumes, secrets and references are checked for consistency.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments, parse } from 'yaml';
import { loadConfig, SECRET_VARIABLES } from '../../src/config/schema';
import { loadViewerConfig, ohifAppConfig } from '../../src/viewer/ohif-gateway';
import { hashUserLine } from '../../src/viewer/viewer-auth';
import { parseRules } from '../../src/rules/schema';
import { REPO_ROOT } from '../support/ainode-process';
import { tempDir } from '../support/env';
import { MALLOC_TUNING, mallocTuningEnv, mallocTuningMissing } from '../../src/observability/memory';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const DEPLOY = path.join(REPO_ROOT, 'deploy');
const VERSION = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version as string;

/** Every AINODE_* name the code reads (literal names, and the *_FILE forms of the secrets). */
function knownVariables(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts'))
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/AINODE_[A-Z0-9_]*[A-Z0-9]/g)) names.add(m[0]);
    }
  };
  walk(path.join(REPO_ROOT, 'src'));
  for (const s of SECRET_VARIABLES) names.add(`${s}_FILE`);
  return names;
}

const pinned = (image: string): boolean => /:[^:/]*\d[^:/]*$/.test(image) && !/:latest$/.test(image);
const isAinodeImage = (image: string): boolean => /^ainode(-worker-gpu)?:/.test(image);
const SECRET_FILE_VARIABLES = new Set<string>(SECRET_VARIABLES.map((s) => `${s}_FILE`));

/** Replace secret file paths with temp files holding plausible values, so the loaders can read them. */
function withSecretFiles(env: Record<string, string>, dir: string): Record<string, string> {
  const sample: Record<string, string> = {
    AINODE_REDIS_URL: 'redis://:pw@redis:6379/0',
    AINODE_ADMIN_TOKEN: 'x'.repeat(32),
    AINODE_DICOMWEB_PASSWORD: 'pw',
    AINODE_DICOMWEB_TOKEN: 't',
  };
  const out = { ...env };
  for (const [k, v] of Object.entries(env)) {
    if (!SECRET_FILE_VARIABLES.has(k)) continue;
    const base = k.slice(0, -'_FILE'.length);
    const f = path.join(dir, `${base}-${Object.keys(out).length}`);
    fs.writeFileSync(f, `${sample[base] ?? 'secret'}\n`);
    expect(v, `${k} points into a secrets mount`).to.match(/^\/run\/secrets\//);
    out[k] = f;
  }
  if (env.AINODE_VIEWER_USERS_FILE) {
    // The viewer's users are a file of their own (ainode viewer add-user), mounted as a secret.
    expect(env.AINODE_VIEWER_USERS_FILE, 'AINODE_VIEWER_USERS_FILE points into a secrets mount').to.match(
      /^\/run\/secrets\//,
    );
    const f = path.join(dir, `viewer-users-${Object.keys(out).length}`);
    fs.writeFileSync(f, `${hashUserLine('reader', 'a long test password')}\n`);
    out.AINODE_VIEWER_USERS_FILE = f;
  }
  return out;
}

describe('deployment: compose file for a complete site', () => {
  const file = path.join(DEPLOY, 'compose', 'compose.yaml');
  const compose = parse(fs.readFileSync(file, 'utf8'), { merge: true }) as Obj;
  const services = compose.services as Record<string, Obj>;
  const envOf = (s: Obj): Record<string, string> =>
    Object.fromEntries(Object.entries((s.environment ?? {}) as Obj).map(([k, v]) => [k, String(v)]));
  const ainodeServices = Object.entries(services).filter(([, s]) => isAinodeImage(String(s.image)));
  const orthancJson = JSON.parse(fs.readFileSync(path.join(DEPLOY, 'compose', 'orthanc.json'), 'utf8')) as Obj;
  const envExample = fs.readFileSync(path.join(DEPLOY, 'compose', '.env.example'), 'utf8');

  it('has every part of the site', () => {
    expect(Object.keys(services).sort()).to.deep.equal([
      'admin',
      'listener',
      'orthanc',
      'postgres',
      'redis',
      'viewer',
      'worker-cpu',
      'worker-gpu',
    ]);
  });

  it('every image is pinned by version; ainode images carry the package version and are built from Dockerfiles here', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(pinned(String(s.image)), `${name}: ${s.image}`).to.equal(true);
      if (isAinodeImage(String(s.image))) {
        expect(String(s.image).split(':')[1], name).to.equal(VERSION);
        const dockerfile = path.resolve(path.dirname(file), s.build.context, s.build.dockerfile);
        expect(fs.existsSync(dockerfile), `${name}: ${dockerfile}`).to.equal(true);
        expect(fs.readFileSync(dockerfile, 'utf8')).to.match(/ENTRYPOINT \["node", "bin\/ainode\.js"\]/);
      }
    }
    expect(services['worker-gpu'].build.dockerfile).to.equal('deploy/gpu/Dockerfile');
    expect(fs.readFileSync(path.join(DEPLOY, 'gpu', 'Dockerfile'), 'utf8')).to.match(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    // The images hold the production build (src/ only); the tests and their fixtures stay out.
    for (const f of [path.join(DEPLOY, 'docker', 'Dockerfile'), path.join(DEPLOY, 'gpu', 'Dockerfile')]) {
      const text = fs.readFileSync(f, 'utf8');
      expect(text, f).to.not.match(/^COPY test\b/m);
      expect(text, f).to.match(/^COPY .*tsconfig\.build\.json/m);
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    // prepare builds src only and deletes nothing: `npx ainode` runs it on the checkout, mid-suite too.
    expect(pkg.scripts.prepare).to.equal('tsc -p tsconfig.build.json');
    const build = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    expect(build.include).to.deep.equal(['src/**/*.ts']);
  });

  it("every ainode service's environment uses only variables ainode reads, and the real loaders accept it", () => {
    const known = knownVariables();
    const dir = tempDir('compose-env');
    for (const [name, s] of ainodeServices) {
      const env = envOf(s);
      for (const k of Object.keys(env)) expect(known.has(k), `${name}: ${k} is not read by ainode`).to.equal(true);
      const resolved = withSecretFiles(env, dir);
      for (const k of Object.keys(env).filter(
        (k) => SECRET_FILE_VARIABLES.has(k) || k === 'AINODE_VIEWER_USERS_FILE',
      )) {
        const secret = `/run/secrets/${(s.secrets as string[]).find((x) => env[k] === `/run/secrets/${x}`)}`;
        expect(secret, `${name}: ${k} names a secret the service mounts`).to.equal(env[k]);
      }
      const [cmd, , role] = s.command as string[];
      if (cmd === 'viewer') {
        fs.writeFileSync(path.join(dir, 'index.html'), '<html></html>');
        const v = loadViewerConfig(resolved, dir);
        expect(v.host).to.equal('0.0.0.0');
        expect(v.auth.kind, 'users sign in to the viewer').to.equal('checked');
        expect(s.ports).to.deep.equal([`127.0.0.1:${v.port}:${v.port}`]);
      } else {
        expect(cmd).to.equal('start');
        expect(['listener', 'worker', 'admin']).to.include(role);
        const c = loadConfig(resolved);
        if (role === 'admin') {
          expect(c.admin.token, 'admin token from its secret file').to.equal('x'.repeat(32));
          expect(s.ports).to.deep.equal([`127.0.0.1:${c.admin.port}:${c.admin.port}`]);
        }
        if (name === 'worker-gpu') expect(c.executionProviders[0]).to.equal('cuda');
      }
    }
  });

  it('URLs point at the services and ports that exist: DICOMweb at Orthanc, Redis at redis', () => {
    for (const [name, s] of ainodeServices) {
      const env = envOf(s);
      const dw = new URL(env.AINODE_DICOMWEB_URL);
      expect(Object.keys(services), name).to.include(dw.hostname);
      expect(Number(dw.port)).to.equal(orthancJson.HttpPort);
      expect(dw.pathname + '/').to.equal(orthancJson.DicomWeb.Root);
      if (env.AINODE_REDIS_URL) {
        const r = new URL(env.AINODE_REDIS_URL);
        expect(r.hostname).to.equal('redis');
        expect(Number(r.port)).to.equal(6379);
      }
      const deps = Object.keys(s.depends_on ?? {});
      expect(deps, `${name} waits for Orthanc`).to.include('orthanc');
    }
    expect(services.orthanc.ports).to.include(`127.0.0.1:${orthancJson.HttpPort}:${orthancJson.HttpPort}`);
    expect(services.orthanc.ports).to.include(`${orthancJson.DicomPort}:${orthancJson.DicomPort}`);
  });

  it('Orthanc: DICOMweb on, PostgreSQL index at the postgres service, every ${VARIABLE} it uses provided', () => {
    expect(orthancJson.DicomWeb.Enable).to.equal(true);
    expect(orthancJson.PostgreSQL.EnableIndex).to.equal(true);
    expect(orthancJson.PostgreSQL.Host).to.equal('postgres');
    const pg = envOf(services.postgres);
    expect(orthancJson.PostgreSQL.Database).to.equal(pg.POSTGRES_DB);
    expect(orthancJson.PostgreSQL.Username).to.equal(pg.POSTGRES_USER);
    const used = [...JSON.stringify(orthancJson).matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]);
    expect(used.length).to.be.greaterThan(0);
    for (const v of used) expect(Object.keys(envOf(services.orthanc)), v).to.include(v);
    expect(Object.keys(orthancJson.RegisteredUsers)).to.include(envOf(services.listener).AINODE_DICOMWEB_USERNAME);
    expect(services.orthanc.volumes).to.include('./orthanc.json:/etc/orthanc/orthanc.json:ro');
  });

  it('Redis keeps an append-only file on a volume; every volume, secret and mounted file exists', () => {
    expect((services.redis.command as string[]).join(' ')).to.match(/--appendonly yes/);
    expect(services.redis.volumes).to.deep.equal(['redis-data:/data']);
    const declaredVolumes = Object.keys(compose.volumes ?? {});
    const declaredSecrets = compose.secrets as Record<string, { environment?: string; file?: string }>;
    for (const [name, s] of Object.entries(services)) {
      for (const v of (s.volumes ?? []) as string[]) {
        const [src, target] = v.split(':');
        if (src.startsWith('.'))
          expect(fs.existsSync(path.resolve(path.dirname(file), src)), `${name}: ${src}`).to.equal(true);
        else expect(declaredVolumes, `${name}: volume ${src}`).to.include(src);
        if (target === '/etc/ainode/rules.yaml') {
          expect(envOf(s).AINODE_RULES_FILE).to.equal(target);
          parseRules(fs.readFileSync(path.resolve(path.dirname(file), src), 'utf8'), src);
        }
      }
      for (const sec of (s.secrets ?? []) as string[])
        expect(Object.keys(declaredSecrets), `${name}: secret ${sec}`).to.include(sec);
    }
    for (const [name, sec] of Object.entries(declaredSecrets)) {
      expect(sec.environment, `secret ${name} comes from the environment (.env)`).to.be.a('string');
      expect(envExample, `.env.example lists ${sec.environment}`).to.match(new RegExp(`^${sec.environment}=$`, 'm'));
    }
  });

  it('no secret value is committed: secret-like variables are files or ${...} from .env', () => {
    for (const [name, s] of Object.entries(services))
      for (const [k, v] of Object.entries(envOf(s)))
        if (/PASSWORD|TOKEN|SECRET/.test(k) && !k.endsWith('_FILE'))
          expect(v, `${name}: ${k}`).to.match(/^\$\{[A-Z0-9_]+:\?[^}]*\}$/);
    expect(fs.readFileSync(path.join(REPO_ROOT, '.gitignore'), 'utf8')).to.match(/^deploy\/compose\/\.env$/m);
    expect(fs.existsSync(path.join(DEPLOY, 'compose', '.env'))).to.equal(false);
  });

  it('the GPU worker reserves an NVIDIA GPU and runs only in the gpu profile', () => {
    const gpu = services['worker-gpu'];
    expect(gpu.profiles).to.deep.equal(['gpu']);
    expect(gpu.deploy.resources.reservations.devices[0]).to.deep.include({
      driver: 'nvidia',
      count: 1,
      capabilities: ['gpu'],
    });
  });
});

describe('deployment: OHIF configuration for Orthanc', () => {
  it('orthanc/ohif-app-config.js is the configuration the viewer gateway serves', () => {
    expect(fs.readFileSync(path.join(REPO_ROOT, 'orthanc', 'ohif-app-config.js'), 'utf8')).to.equal(ohifAppConfig());
  });
});

describe('deployment: Kubernetes manifests (kubectl apply -k deploy/)', () => {
  const kustomization = parse(fs.readFileSync(path.join(DEPLOY, 'kustomization.yaml'), 'utf8')) as Obj;
  const docs: Obj[] = (kustomization.resources as string[]).flatMap((r) => {
    const f = path.join(DEPLOY, r);
    expect(fs.existsSync(f), r).to.equal(true);
    return parseAllDocuments(fs.readFileSync(f, 'utf8')).map((d) => d.toJS() as Obj);
  });
  const keda = parseAllDocuments(
    fs.readFileSync(path.join(DEPLOY, 'kubernetes', 'autoscaling', 'keda.yaml'), 'utf8'),
  ).map((d) => d.toJS() as Obj);
  const secretExample = parse(fs.readFileSync(path.join(DEPLOY, 'kubernetes', 'secret.example.yaml'), 'utf8')) as Obj;
  const byKind = (kind: string): Obj[] => docs.filter((d) => d.kind === kind);
  const deployments = byKind('Deployment');
  const configMap = byKind('ConfigMap').find((c) => c.metadata.name === 'ainode-config')!;
  const secretKeys = Object.keys(secretExample.stringData);

  it('every document is a known kind with a name; the listener runs more than one replica', () => {
    for (const d of docs) {
      expect(d.apiVersion, JSON.stringify(d.metadata)).to.be.a('string');
      expect(d.metadata.name).to.match(/^[a-z0-9-]+$/);
    }
    expect(deployments.map((d) => d.metadata.name).sort()).to.deep.equal([
      'ainode-admin',
      'ainode-listener',
      'ainode-viewer',
      'ainode-worker-cpu',
      'ainode-worker-gpu',
    ]);
    expect(deployments.find((d) => d.metadata.name === 'ainode-listener')!.spec.replicas).to.be.greaterThan(1);
    for (const d of deployments)
      expect(d.spec.selector.matchLabels, d.metadata.name).to.deep.equal(d.spec.template.metadata.labels);
  });

  it('every container: pinned image, known variables, mounted secrets and config keys that exist, and the real loaders accept its environment', () => {
    const known = knownVariables();
    const dir = tempDir('k8s-env');
    fs.writeFileSync(path.join(dir, 'index.html'), '<html></html>');
    for (const d of deployments) {
      const spec = d.spec.template.spec;
      for (const c of spec.containers as Obj[]) {
        const where = `${d.metadata.name}/${c.name}`;
        expect(pinned(c.image), `${where}: ${c.image}`).to.equal(true);
        expect(c.image.split(':')[1]).to.equal(VERSION);
        const env: Record<string, string> = {};
        for (const ef of (c.envFrom ?? []) as Obj[]) {
          expect(ef.configMapRef.name).to.equal('ainode-config');
          Object.assign(env, configMap.data);
        }
        for (const e of (c.env ?? []) as Obj[]) {
          if (e.valueFrom) {
            const ref = e.valueFrom.configMapKeyRef;
            expect(configMap.data, `${where}: ${e.name}`).to.have.property(ref.key);
            env[e.name] = configMap.data[ref.key];
          } else env[e.name] = String(e.value);
        }
        for (const k of Object.keys(env)) expect(known.has(k), `${where}: ${k} is not read by ainode`).to.equal(true);
        const mounts = new Map(((c.volumeMounts ?? []) as Obj[]).map((m) => [m.mountPath, m.name]));
        const volumes = new Map(((spec.volumes ?? []) as Obj[]).map((v) => [v.name, v]));
        for (const [k, v] of Object.entries(env).filter(([k]) => SECRET_FILE_VARIABLES.has(k))) {
          const dirPath = path.dirname(v);
          const vol = volumes.get(mounts.get(dirPath));
          expect(vol?.secret?.secretName, `${where}: ${k} is on a mounted secret`).to.equal('ainode-secrets');
          expect(secretKeys, `${where}: ${k} -> key ${path.basename(v)}`).to.include(path.basename(v));
        }
        if (env.AINODE_RULES_FILE) {
          const vol = volumes.get(mounts.get(path.dirname(env.AINODE_RULES_FILE)));
          expect(vol?.configMap?.name, `${where}: rules mounted`).to.equal('ainode-rules');
          const gen = (kustomization.configMapGenerator as Obj[]).find((g) => g.name === 'ainode-rules')!;
          const [key, src] = String(gen.files[0]).split('=');
          expect(key).to.equal(path.basename(env.AINODE_RULES_FILE));
          parseRules(fs.readFileSync(path.join(DEPLOY, src), 'utf8'), src);
        }
        const resolved = withSecretFiles(env, dir);
        if (c.args[0] === 'viewer') {
          const v = loadViewerConfig(resolved, dir);
          expect(v.auth.kind, 'users sign in to the viewer').to.equal('checked');
          expect(c.ports.map((p: Obj) => p.containerPort)).to.deep.equal([v.port]);
        } else {
          expect(c.args.slice(0, 2)).to.deep.equal(['start', '--role']);
          const cfg = loadConfig(resolved);
          if (c.args[2] === 'admin') expect(c.ports.map((p: Obj) => p.containerPort)).to.deep.equal([cfg.admin.port]);
          if (c.args[2] === 'worker')
            expect(
              spec.terminationGracePeriodSeconds * 1000,
              `${where}: grace period longer than the shutdown deadline`,
            ).to.be.greaterThan(cfg.shutdownDeadlineMs);
          if (d.metadata.name === 'ainode-worker-gpu') {
            expect(cfg.executionProviders[0]).to.equal('cuda');
            expect(c.resources.limits['nvidia.com/gpu']).to.equal(1);
          }
        }
      }
    }
  });

  it('services select their deployments and target named container ports', () => {
    for (const s of byKind('Service')) {
      const d = deployments.find((x) =>
        Object.entries(s.spec.selector).every(([k, v]) => x.spec.template.metadata.labels[k] === v),
      );
      expect(d, s.metadata.name).to.not.equal(undefined);
      const names = (d!.spec.template.spec.containers as Obj[]).flatMap((c) => (c.ports ?? []).map((p: Obj) => p.name));
      for (const p of s.spec.ports as Obj[])
        expect(names, `${s.metadata.name}: ${p.targetPort}`).to.include(p.targetPort);
    }
  });

  it('KEDA scales the worker deployments on the admin API backlog endpoint, with the token from the secret', () => {
    const admin = byKind('Service').find((s) => s.metadata.name === 'ainode-admin')!;
    const auth = keda.find((k) => k.kind === 'TriggerAuthentication')!;
    expect(secretKeys).to.include(auth.spec.secretTargetRef[0].key);
    const src = fs.readFileSync(path.join(REPO_ROOT, 'src', 'admin', 'app.ts'), 'utf8');
    for (const so of keda.filter((k) => k.kind === 'ScaledObject')) {
      expect(deployments.map((d) => d.metadata.name)).to.include(so.spec.scaleTargetRef.name);
      const t = so.spec.triggers[0];
      expect(t.type).to.equal('metrics-api');
      expect(t.authenticationRef.name).to.equal(auth.metadata.name);
      const u = new URL(t.metadata.url);
      expect(u.hostname).to.equal(`${admin.metadata.name}.${kustomization.namespace}.svc.cluster.local`);
      expect(Number(u.port)).to.equal(admin.spec.ports[0].port);
      expect(src).to.include(`'${u.pathname}'`);
      expect(t.metadata.valueLocation).to.equal('backlog');
    }
  });
});

describe('deployment: glibc malloc tuning for the worker (src/observability/memory.ts)', () => {
  const read = (p: string): string => fs.readFileSync(path.join(REPO_ROOT, p), 'utf8');
  it('both images, both systemd units and the test command set MALLOC_TUNING', () => {
    for (const f of ['deploy/docker/Dockerfile', 'deploy/gpu/Dockerfile']) {
      const finalStage = read(f)
        .split(/^FROM /m)
        .pop()!;
      for (const [k, v] of Object.entries(MALLOC_TUNING))
        expect(finalStage, `${f}: ${k}`).to.match(new RegExp(`^\\s*(ENV )?${k}=${v.replace(/\./g, '\\.')}( |$)`, 'm'));
    }
    for (const f of ['deploy/systemd/ainode-worker.service', 'deploy/systemd/ainode-listener.service']) {
      const line = read(f)
        .split('\n')
        .find((l) => l.startsWith('Environment='))!;
      expect(line, f).to.equal(
        `Environment=${Object.entries(MALLOC_TUNING)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    }
    // The test command runs its in-process model runs with them too.
    const testSh = read('scripts/test.sh');
    for (const [k, v] of Object.entries(MALLOC_TUNING))
      expect(testSh, `scripts/test.sh: ${k}`).to.match(new RegExp(`${k}=\\S*${v.replace(/\./g, '\\.')}`));
  });
  it('the worker tells which variables are missing, on Linux only', () => {
    expect(mallocTuningMissing({ ...MALLOC_TUNING }, 'linux')).to.deep.equal([]);
    expect(mallocTuningMissing({}, 'linux')).to.deep.equal(Object.keys(MALLOC_TUNING));
    expect(mallocTuningMissing({ ...MALLOC_TUNING, MALLOC_ARENA_MAX: '8' }, 'linux')).to.deep.equal([
      'MALLOC_ARENA_MAX',
    ]);
    expect(mallocTuningMissing({}, 'darwin')).to.deep.equal([]);
  });
  it('GLIBC_TUNABLES counts as set when its list holds the huge-page tunable, among others or not', () => {
    const rest = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' };
    expect(
      mallocTuningMissing({ ...rest, GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=1' }, 'linux'),
    ).to.deep.equal([]);
    expect(mallocTuningMissing({ ...rest, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }, 'linux')).to.deep.equal([
      'GLIBC_TUNABLES',
    ]);
    expect(mallocTuningMissing({ ...rest, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=10' }, 'linux')).to.deep.equal([
      'GLIBC_TUNABLES',
    ]);
    expect(mallocTuningMissing(rest, 'linux')).to.deep.equal(['GLIBC_TUNABLES']);
    // A child's environment: other tunables kept, the huge-page one added once.
    expect(mallocTuningEnv({}).GLIBC_TUNABLES).to.equal('glibc.malloc.hugetlb=1');
    expect(mallocTuningEnv({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' }).GLIBC_TUNABLES).to.equal(
      'glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=1',
    );
    expect(mallocTuningEnv({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1:x=1' }).GLIBC_TUNABLES).to.equal(
      'glibc.malloc.hugetlb=1:x=1',
    );
    expect(
      mallocTuningMissing({ ...mallocTuningEnv({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }) }, 'linux'),
    ).to.deep.equal([]);
  });
});
