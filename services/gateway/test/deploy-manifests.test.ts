import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compileProxyTrust, SERVICE_NAMES } from '@parley/kernel';
import { parse, parseAllDocuments } from 'yaml';
import { parleyNodeArguments } from '../../../apps/server/src/node-flags.ts';
import { renderTemplate } from './support/helm-lite.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const deploy = join(root, 'deploy');
const SERVICES = SERVICE_NAMES.filter((name) => name !== 'gateway');
const PORT = 8080;

type Doc = Record<string, unknown> & { kind?: string; metadata?: { name?: string } };

// Small typed readers over parsed YAML (it is `unknown` until checked).
const obj = (value: unknown): Record<string, unknown> => (value ?? {}) as Record<string, unknown>;
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

describe('deploy/Dockerfile and .dockerignore', () => {
  let dockerfile: string;
  let instructions: Array<{ op: string; args: string }>;

  before(async () => {
    dockerfile = await readFile(join(deploy, 'Dockerfile'), 'utf8');
    instructions = dockerfile
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => {
        const [op = '', ...rest] = line.split(/\s+/);
        return { op: op.toUpperCase(), args: rest.join(' ') };
      });
  });

  const all = (op: string) => instructions.filter((i) => i.op === op);
  const last = (op: string) => all(op).at(-1)?.args ?? '';

  it('is multi-stage, installs runtime dependencies only for the image, and keeps tsx', async () => {
    assert.ok(all('FROM').length >= 2, 'several stages');
    assert.ok(all('RUN').some((i) => /npm ci --omit=dev/.test(i.args)));
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    assert.ok(pkg.dependencies?.tsx, 'tsx is a runtime (root) dependency, so --omit=dev keeps it');
  });

  it('runs as a non-root user, exposes the port, checks /health and starts main.ts through tsx', () => {
    const user = last('USER');
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`);
    assert.equal(last('EXPOSE'), String(PORT));
    assert.match(last('ENV'), new RegExp(`PORT=${PORT}`));
    assert.match(last('HEALTHCHECK'), /\/health/);
    assert.deepEqual(JSON.parse(last('CMD')), ['node', ...parleyNodeArguments('apps/server/src/main.ts')]);
    assert.match(last('ENV'), /PARLEY_SERVICES=all/, 'the role comes from PARLEY_SERVICES');
  });

  it('keeps local dependencies, data and history out of the build context', async () => {
    const ignored = (await readFile(join(root, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((line) => line.trim());
    for (const entry of ['**/node_modules', '**/data', '.git']) assert.ok(ignored.includes(entry), entry);
  });
});

describe('deploy/compose.yaml', () => {
  let compose: { services: Record<string, Record<string, unknown>>; volumes?: Record<string, unknown> };
  const parleyServices = () =>
    Object.entries(compose.services).filter(
      ([, service]) => obj(service.environment).PARLEY_SERVICES !== undefined,
    );

  before(async () => {
    compose = parse(await readFile(join(deploy, 'compose.yaml'), 'utf8'), { merge: true }) as typeof compose;
  });

  it('runs PostgreSQL, Redis and NATS with JetStream, each with a healthcheck', () => {
    for (const name of ['postgres', 'redis', 'nats']) assert.ok(compose.services[name]?.healthcheck, name);
    assert.ok(list(compose.services.nats?.command).includes('-js'), 'JetStream enabled');
  });

  it('runs the gateway, every service and two chat replicas from one image, each role by PARLEY_SERVICES', () => {
    const roles = parleyServices().map(([, service]) => String(obj(service.environment).PARLEY_SERVICES));
    for (const role of SERVICE_NAMES) assert.ok(roles.includes(role), role);
    assert.equal(roles.filter((role) => role === 'chat').length, 2, 'two chat replicas');
    for (const [name, service] of parleyServices()) {
      assert.equal(service.image, 'parley:latest', name);
      const environment = obj(service.environment);
      assert.equal(environment.PORT, String(PORT), name);
      for (const variable of [
        'DATABASE_URL',
        'REDIS_URL',
        'NATS_URL',
        'PARLEY_INTERNAL_TOKEN',
        'PARLEY_PUBLIC_URL',
      ]) {
        assert.ok(environment[variable], `${name} ${variable}`);
      }
      assert.match(JSON.stringify(service.healthcheck), /\/ready/, `${name} healthcheck`);
      assert.ok(obj(service.depends_on).redis, `${name} waits for its backends`);
    }
    assert.match(JSON.stringify(compose.services.gateway?.build), /deploy\/Dockerfile/);
  });

  it('passes a metrics token, when the host sets one, to every Parley process', () => {
    // Compose's own substitution syntax, taken from the host's environment (empty when unset).
    const fromHost = ['$', '{PARLEY_METRICS_TOKEN:-}'].join('');
    for (const [name, service] of parleyServices())
      assert.equal(obj(service.environment).PARLEY_METRICS_TOKEN, fromHost, name);
  });

  it('points the gateway at every service on the compose network, and publishes only the gateway', () => {
    const environment = obj(compose.services.gateway?.environment);
    for (const service of SERVICES) {
      const urls = String(environment[`PARLEY_UPSTREAM_${service.toUpperCase()}`] ?? '').split(',');
      assert.ok(urls.length > 0 && urls[0], service);
      for (const url of urls) {
        const { hostname, port } = new URL(url);
        assert.equal(port, String(PORT), url);
        assert.equal(
          obj(compose.services[hostname]?.environment).PARLEY_SERVICES,
          service,
          `${url} runs ${service}`,
        );
      }
    }
    assert.equal(String(environment.PARLEY_UPSTREAM_CHAT).split(',').length, 2);
    // The published gateway must not let a client pick the address per-IP limits count.
    assert.match(String(environment.PARLEY_TRUST_PROXY), /^\$\{PARLEY_GATEWAY_TRUST_PROXY:-false\}$/);
    for (const [name, service] of parleyServices().filter(([name]) => name !== 'gateway')) {
      const trusted = compileProxyTrust(String(obj(service.environment).PARLEY_TRUST_PROXY).split(','));
      assert.ok(trusted('172.18.0.5', 0), `${name} trusts the compose network`);
      assert.ok(!trusted('203.0.113.7', 0), `${name} trusts no outside address`);
    }
    assert.deepEqual(compose.services.gateway?.ports, [`${PORT}:${PORT}`]);
    const published = parleyServices().filter(([, service]) => service.ports !== undefined);
    assert.deepEqual(
      published.map(([name]) => name),
      ['gateway'],
    );
  });
});

describe('deploy/helm/parley', () => {
  const chart = join(deploy, 'helm', 'parley');
  let values: Record<string, unknown>;
  let docs: Doc[];
  const release = 'demo';
  const byKind = (kind: string) => docs.filter((doc) => doc.kind === kind);
  const named = (kind: string, name: string) => byKind(kind).find((doc) => doc.metadata?.name === name);

  before(async () => {
    values = parse(await readFile(join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const chartYaml = parse(await readFile(join(chart, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
    assert.equal(chartYaml.apiVersion, 'v2');
    // The secret values the chart requires (helm install --set secrets.internalToken=... and so on).
    const secrets = {
      existingSecret: '',
      internalToken: 'x'.repeat(64),
      databaseUrl: 'postgres://parley@db:5432/parley',
      redisUrl: 'redis://redis:6379',
      natsUrl: 'nats://nats:4222',
    };
    const context = {
      Values: { ...values, secrets },
      Release: { Name: release, Namespace: 'default' },
      Chart: { Name: chartYaml.name, Version: chartYaml.version, AppVersion: chartYaml.appVersion },
    };
    docs = [];
    const templates = (await readdir(join(chart, 'templates'))).filter((file) => file.endsWith('.yaml'));
    for (const file of templates.sort()) {
      const rendered = renderTemplate(await readFile(join(chart, 'templates', file), 'utf8'), context);
      for (const document of parseAllDocuments(rendered)) {
        assert.deepEqual(document.errors, [], `${file} renders to valid YAML`);
        const doc = document.toJS() as Doc | null;
        if (doc) docs.push(doc);
      }
    }
  });

  it('refuses to render without the secrets it needs', async () => {
    const template = await readFile(join(chart, 'templates', 'secret.yaml'), 'utf8');
    assert.throws(
      () =>
        renderTemplate(template, {
          Values: values,
          Release: { Name: release, Namespace: 'default' },
          Chart: {},
        }),
      /secrets.internalToken is required/,
    );
  });

  it('puts a metrics token into the Secret only when one is given', async () => {
    const template = await readFile(join(chart, 'templates', 'secret.yaml'), 'utf8');
    const secretWith = (metricsToken: string) => {
      const rendered = renderTemplate(template, {
        Values: {
          ...values,
          secrets: {
            ...obj(values.secrets),
            internalToken: 'x'.repeat(64),
            databaseUrl: 'postgres://parley@db:5432/parley',
            redisUrl: 'redis://redis:6379',
            natsUrl: 'nats://nats:4222',
            metricsToken,
          },
        },
        Release: { Name: release, Namespace: 'default' },
        Chart: {},
      });
      return obj((parseAllDocuments(rendered)[0]?.toJS() as Doc | null)?.stringData);
    };
    assert.equal(secretWith('').PARLEY_METRICS_TOKEN, undefined, 'empty: /metrics stays open');
    assert.equal(secretWith('scrape-token-0123456789').PARLEY_METRICS_TOKEN, 'scrape-token-0123456789');
  });

  it('lets the gateway believe no X-Forwarded-For when clients reach its Service directly', async () => {
    const template = await readFile(join(chart, 'templates', 'deployments.yaml'), 'utf8');
    const components = obj(values.components);
    const gatewayEnv = (gateway: Record<string, unknown>) => {
      const rendered = renderTemplate(template, {
        Values: {
          ...values,
          components: { ...components, gateway: { ...obj(components.gateway), ...gateway } },
        },
        Release: { Name: release, Namespace: 'default' },
        Chart: {},
      });
      const deployment = parseAllDocuments(rendered)
        .map((document) => document.toJS() as Doc | null)
        .find((doc) => doc?.metadata?.name === `${release}-gateway`);
      const container = obj(list(obj(obj(obj(deployment?.spec).template).spec).containers)[0]);
      return Object.fromEntries(list(container.env).map((entry) => [obj(entry).name, obj(entry).value]));
    };
    for (const serviceType of ['LoadBalancer', 'NodePort'])
      assert.equal(gatewayEnv({ serviceType }).PARLEY_TRUST_PROXY, 'false', serviceType);
    assert.equal(
      gatewayEnv({ serviceType: 'ClusterIP' }).PARLEY_TRUST_PROXY,
      undefined,
      'the ConfigMap decides',
    );
    assert.equal(
      gatewayEnv({ serviceType: 'LoadBalancer', trustProxy: '10.42.0.0/16' }).PARLEY_TRUST_PROXY,
      '10.42.0.0/16',
    );
  });

  it('has one Deployment and one Service per component, the role set by PARLEY_SERVICES', () => {
    for (const component of SERVICE_NAMES) {
      const deployment = named('Deployment', `${release}-${component}`);
      assert.ok(deployment, `Deployment ${component}`);
      const pod = obj(obj(obj(deployment.spec).template).spec);
      const container = obj(list(pod.containers)[0]);
      assert.deepEqual(list(container.env), [{ name: 'PARLEY_SERVICES', value: component }]);
      assert.equal(container.image, `${obj(values.image).repository}:${obj(values.image).tag}`);
      assert.deepEqual(list(container.ports), [{ name: 'http', containerPort: PORT }]);
      assert.equal(obj(pod.securityContext).runAsNonRoot, true);
      assert.ok(obj(container.resources).requests, `${component} requests resources`);

      const service = named('Service', `${release}-${component}`);
      assert.ok(service, `Service ${component}`);
      assert.deepEqual(list(obj(service.spec).ports), [{ name: 'http', port: PORT, targetPort: 'http' }]);
      assert.deepEqual(obj(service.spec).selector, obj(obj(deployment.spec).selector).matchLabels);
      assert.deepEqual(obj(obj(obj(deployment.spec).template).metadata).labels, {
        ...obj(obj(obj(deployment.spec).selector).matchLabels),
        'app.kubernetes.io/name': 'parley',
      });
    }
    assert.equal(byKind('Deployment').length, SERVICE_NAMES.length);
  });

  it('probes liveness on /health and readiness on /ready', () => {
    for (const deployment of byKind('Deployment')) {
      const container = obj(list(obj(obj(obj(deployment.spec).template).spec).containers)[0]);
      assert.deepEqual(obj(container.livenessProbe).httpGet, { path: '/health', port: 'http' });
      assert.deepEqual(obj(container.readinessProbe).httpGet, { path: '/ready', port: 'http' });
      assert.deepEqual(obj(container.startupProbe).httpGet, { path: '/health', port: 'http' });
    }
  });

  it('configures every pod from the ConfigMap and the Secret, the gateway’s upstreams being the Services', () => {
    const config = obj(named('ConfigMap', `${release}-config`)?.data);
    const secret = named('Secret', `${release}-secrets`);
    assert.ok(secret);
    assert.deepEqual(Object.keys(obj(secret.stringData)).sort(), [
      'DATABASE_URL',
      'NATS_URL',
      'PARLEY_INTERNAL_TOKEN',
      'REDIS_URL',
    ]);
    assert.equal(config.PORT, String(PORT));
    assert.equal(config.NODE_ENV, 'production');
    for (const service of SERVICES) {
      const url = new URL(String(config[`PARLEY_UPSTREAM_${service.toUpperCase()}`]));
      assert.ok(named('Service', url.hostname), `${service} upstream ${url} is a Service`);
      assert.equal(url.port, String(PORT));
    }
    assert.equal(config.PARLEY_JWKS_URL, `http://${release}-identity:${PORT}/.well-known/jwks.json`);
    // Only peers inside the cluster may name the client; trusting every peer lets anyone spoof it.
    const trusted = compileProxyTrust(String(config.PARLEY_TRUST_PROXY).split(','));
    assert.ok(trusted('10.42.0.7', 0), 'a pod address is trusted');
    assert.ok(!trusted('203.0.113.7', 0), 'a public address is not');
    for (const deployment of byKind('Deployment')) {
      const container = obj(list(obj(obj(obj(deployment.spec).template).spec).containers)[0]);
      assert.deepEqual(list(container.envFrom), [
        { configMapRef: { name: `${release}-config` } },
        { secretRef: { name: `${release}-secrets` } },
      ]);
    }
  });

  it('monitors with the Prometheus Operator only when asked, and alerts on metrics the code exports', async () => {
    assert.equal(byKind('ServiceMonitor').length + byKind('PrometheusRule').length, 0, 'off by default');
    const template = await readFile(join(chart, 'templates', 'monitoring.yaml'), 'utf8');
    const monitoring = obj(values.monitoring);
    const render = (authorize: boolean) =>
      parseAllDocuments(
        renderTemplate(template, {
          Values: {
            ...values,
            monitoring: {
              serviceMonitor: { ...obj(monitoring.serviceMonitor), enabled: true, authorize },
              rules: { ...obj(monitoring.rules), enabled: true },
            },
          },
          Release: { Name: release, Namespace: 'chat-prod' },
          Chart: {},
        }),
      ).map((document) => document.toJS() as Doc);
    const [monitor, rules] = render(true);
    assert.equal(monitor?.kind, 'ServiceMonitor');
    const selected = obj(obj(obj(monitor?.spec).selector).matchLabels);
    for (const service of byKind('Service')) {
      const labels = obj(obj(service.metadata).labels);
      for (const [key, value] of Object.entries(selected))
        assert.equal(labels[key], value, `${key} selects Services`);
      assert.ok(list(obj(service.spec).ports).some((port) => obj(port).name === 'http'));
    }
    const endpoint = obj(list(obj(monitor?.spec).endpoints)[0]);
    assert.equal(endpoint.port, 'http');
    assert.equal(endpoint.path, '/metrics');
    const credentials = obj(obj(endpoint.authorization).credentials);
    assert.equal(credentials.key, 'PARLEY_METRICS_TOKEN');
    const deployment = named('Deployment', `${release}-chat`);
    const container = obj(list(obj(obj(obj(deployment?.spec).template).spec).containers)[0]);
    const envFrom = list(container.envFrom).map((source) => obj(obj(source).secretRef).name);
    assert.ok(envFrom.includes(credentials.name), 'the token comes from the Secret the pods read');
    assert.equal(obj(list(obj(render(false)[0]?.spec).endpoints)[0]).authorization, undefined);

    assert.equal(rules?.kind, 'PrometheusRule');
    const alerts = list(obj(list(obj(rules?.spec).groups)[0]).rules).map(obj);
    assert.ok(alerts.length >= 3);
    // Every metric an alert reads must exist in the code, so renaming one cannot silently disarm it.
    const sources = await Promise.all(
      [
        'packages/store/src/event-metrics.ts',
        'services/bots/src/ops/bots-metrics.ts',
        'services/gateway/src/ops/gateway-metrics.ts',
      ].map((file) => readFile(join(root, file), 'utf8')),
    );
    for (const alert of alerts) {
      const expr = String(alert.expr);
      assert.match(expr, /namespace="chat-prod"/, `${alert.alert} reads its own release's namespace`);
      const metrics = [...expr.matchAll(/\b([a-z]+_[a-z_]+)\{/g)].map((match) => match[1]);
      assert.ok(metrics.length > 0, String(alert.alert));
      for (const metric of metrics)
        assert.ok(
          sources.some((source) => source.includes(`'${metric}'`)),
          `${alert.alert}: ${metric} is exported`,
        );
    }
  });

  it('autoscales the gateway and chat, and protects them with disruption budgets', () => {
    const scaled = byKind('HorizontalPodAutoscaler').map((hpa) => obj(obj(hpa.spec).scaleTargetRef));
    assert.deepEqual(scaled.map((target) => [target.kind, target.name]).sort(), [
      ['Deployment', `${release}-chat`],
      ['Deployment', `${release}-gateway`],
    ]);
    for (const name of ['gateway', 'chat']) {
      const deployment = named('Deployment', `${release}-${name}`);
      assert.equal(obj(deployment?.spec).replicas, undefined, `${name}: the autoscaler owns replicas`);
      const budget = named('PodDisruptionBudget', `${release}-${name}`);
      assert.ok(budget, `${name} budget`);
      assert.deepEqual(
        obj(obj(budget.spec).selector).matchLabels,
        obj(obj(deployment?.spec).selector).matchLabels,
      );
    }
    assert.equal(obj(named('Deployment', `${release}-bots`)?.spec).replicas, 1);
  });
});
