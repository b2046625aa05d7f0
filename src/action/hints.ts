import type { ErrorKind, MigrationError } from '../base/errors.js'
import { civoFirewallCommand, type CivoDatabaseRef } from '../targets/civo.js'
import { Inputs } from './inputs.js'

/** What the run knows that a hint may use. */
export interface HintContext {
  /** The Civo database the target was resolved from, when it was. */
  civo?: { ref: CivoDatabaseRef; port: number; firewall?: boolean }
  /** Whether the run wrote to a target database and did not undo it. */
  targetTouched?: boolean
}

type HintRule = (error: MigrationError, context: HintContext) => string | undefined

const input = (error: MigrationError): string => error.input ?? 'the database URL'

/** A firewall is the usual reason a managed database cannot be reached; Civo's is named. */
function unreachable(error: MigrationError, context: HintContext, slow = ''): string {
  if (context.civo && error.input === Inputs.CivoDatabase) return civoFirewall(context.civo) + slow
  return `check the host and port in ${input(error)}; a managed database's firewall must admit this runner's IP address${slow}`
}

/**
 * A Civo firewall admits only listed addresses, and a hosted runner's changes from run to run. When
 * the action admitted the runner itself, the address it asked for may not be the one the runner uses.
 */
function civoFirewall({ ref, port, firewall }: NonNullable<HintContext['civo']>): string {
  if (firewall)
    return `the action admitted this runner's address to Civo firewall ${ref.firewallId ?? ''}; if the runner reaches the internet through another address, set ${Inputs.RunnerIp} to it`
  return `the Civo database firewall must admit this runner's IP address: set ${Inputs.CivoFirewall}: open to let the action do it for the run, or add it yourself (\`${civoFirewallCommand(ref, port)}\`)`
}

/**
 * The fixes that name inputs: lower layers say what failed (the kind), only this table says which
 * input to change. Kinds without a rule keep the hint their error carries.
 */
const RULES: Partial<Record<ErrorKind, HintRule>> = {
  unreachable: (error, context) => unreachable(error, context),
  'connect-timeout': (error, context) => unreachable(error, context, ' (raise connect-timeout for slow networks)'),
  authentication: (error) => `check the user name and password in ${input(error)}`,
  'role-refused': (error) => `check the user in ${input(error)} and the server's pg_hba.conf`,
  'missing-database': (error) => `create it or fix the database name in ${input(error)}`,
  'tls-unsupported': (error) =>
    `turn TLS on at the server, or set sslmode=prefer in ${input(error)} to accept a plain connection`,
  'tls-certificate': (error) =>
    `set sslrootcert in ${input(error)} to the CA certificate that signed the server's${error.facts.sslmode === 'verify-full' ? ', and connect by the host name the certificate names' : ''}`,
  'client-download': () =>
    `check ${Inputs.ClientDownloadUrl} and ${Inputs.PostgresVersion}, or install the client on the runner`,
  'client-checksum': () => `retry; if it persists, check ${Inputs.ClientDownloadUrl}`,
  'client-wrong-build': (error) =>
    `point ${Inputs.ClientDownloadUrl} at a PostgreSQL ${error.facts.major} build for ${error.facts.platform}`,
  'client-layout': () => `point ${Inputs.ClientDownloadUrl} at a full PostgreSQL build`,
  'client-missing': () => `set ${Inputs.ClientDownloadUrl} or install it on the runner`,
  'client-broken': (error) => `remove the broken client from ${error.facts.where} or set ${Inputs.ClientDownloadUrl}`,
  'client-release-unknown': (error) =>
    error.facts.major
      ? `set ${Inputs.PostgresVersion} to a full release such as ${error.facts.major}.1.0, or ${Inputs.ClientDownloadUrl} to your own build`
      : `set ${Inputs.PostgresVersion}`,
  'client-too-old': (error) => `set ${Inputs.PostgresVersion} to ${error.facts.minimum} or newer: ${error.hint}`,
  'compression-unsupported': () => `set ${Inputs.Compression}: gzip`,
  'disk-full': () => `point ${Inputs.DumpPath} at a disk with room for the compressed database, or free space there`,
  'dump-path-occupied': () => `point ${Inputs.DumpPath} at an empty or new folder`,
  'dump-path-unwritable': () => `point ${Inputs.DumpPath} at a writable folder`,
  'no-dump': () => `set ${Inputs.DumpPath} to the downloaded dump folder, or ${Inputs.ArtifactName} to download it`,
  'no-manifest': () => `point ${Inputs.DumpPath} at the dump folder, or set ${Inputs.ArtifactName}`,
  'dump-encrypted': (error) =>
    error.facts.reason === 'wrong'
      ? `set ${Inputs.ArtifactEncryptionKey} to the age secret key whose public key the dump job encrypted to; nothing was written to the target`
      : `set ${Inputs.ArtifactEncryptionKey} to the age secret key (AGE-SECRET-KEY-1…) the dump job used; nothing was written to the target`,
  'artifact-download': () => `check ${Inputs.ArtifactName} and ${Inputs.ArtifactRunId}`,
  'artifact-upload': () => `${Inputs.ArtifactRequired} is true; fix the upload or set it to false`,
  'restore-role': (error) =>
    `${error.hint ?? 'see the message'}; or set ${Inputs.AcceptSourceCode}: true to run the restore as the target login, trusting the source's code with its rights`,
  'partial-copy': () =>
    `the target database holds a partial copy: fix the cause, then run again with ${Inputs.IfTargetNotEmpty}: resume to keep what is complete, or ${Inputs.IfTargetNotEmpty}: clean to start over`,
  'sync-stream': () =>
    `the target holds a partial copy and the sync's slot was dropped: check the source's replication settings and connection, then run again with ${Inputs.IfTargetNotEmpty}: clean`,
  'sync-apply': () =>
    `the target holds a partial copy: something on the target refused a change the source made (a row written on the target directly, a missing role or extension); fix it, then run again with ${Inputs.IfTargetNotEmpty}: clean`,
  'sync-source-changed': () =>
    `the schema must not change while a sync runs: hold schema migrations until after cutover, then run again with ${Inputs.IfTargetNotEmpty}: clean`,
  'sync-lag': () =>
    `the target holds a partial copy and cannot keep up with the source's writes: sync at a quieter time or raise ${Inputs.MaxLagSeconds}, and run again with ${Inputs.IfTargetNotEmpty}: clean`,
  'civo-api-url': () => `check ${Inputs.CivoApiUrl}`,
  'civo-unreachable': () => `check ${Inputs.CivoApiUrl} and that this runner can reach it`,
  'civo-key-refused': () =>
    `check ${Inputs.CivoApiKey}: create an API key with access to databases and firewalls in the Civo dashboard and pass it from a secret`,
  'civo-http': (error) =>
    `check ${Inputs.CivoRegion} ("${error.facts.region}") and ${Inputs.CivoApiUrl}; retry if Civo reports an outage`,
  'civo-not-found': () => `check ${Inputs.CivoDatabase} and ${Inputs.CivoRegion}`,
  'civo-ambiguous': () => `set ${Inputs.CivoDatabase} to the id of the one to migrate into`,
  'civo-not-postgres': () => `set ${Inputs.CivoDatabase} to a PostgreSQL database`,
  'civo-no-address': () =>
    `a runner outside its Civo network can only reach a database with a public address; give ${Inputs.TargetUrl} to connect another way`,
  'civo-no-login': (error) =>
    `check that ${Inputs.CivoApiKey} may read database credentials (civo database credential ${error.facts.name}), or give ${Inputs.TargetUrl}`,
  'civo-version-unavailable': (error) =>
    `set ${Inputs.CivoPgVersion} to a version Civo offers${error.facts.offered ? ` (${error.facts.offered})` : ''}, or leave it empty for Civo's default`,
  'civo-exists-other-major': () =>
    `give ${Inputs.CivoDatabase} a name no database has, or set ${Inputs.CivoPgVersion} to the existing database's major; a database is never replaced`,
  'civo-create-timeout': (error) =>
    `see the database in the Civo dashboard (civo database show ${error.facts.id}); run again once it is Ready`,
  'civo-firewall-refused': () =>
    `use a ${Inputs.CivoApiKey} that may manage firewalls, or set ${Inputs.CivoFirewall}: off and admit this runner's address yourself`,
  'runner-address': () =>
    `set ${Inputs.RunnerIp} to this runner's public IPv4 address, or ${Inputs.IpEchoUrl} to a service it can reach`,
  cancelled: (_error, context) =>
    context.targetTouched
      ? `the target may hold a partial copy: run again with ${Inputs.IfTargetNotEmpty}: resume to keep what is complete, or ${Inputs.IfTargetNotEmpty}: clean to start over`
      : 'nothing was written to the target: run the step again'
}

/** The fix for an error, in the user's terms; undefined when there is nothing to add. */
export function hintFor(error: MigrationError, context: HintContext = {}): string | undefined {
  return RULES[error.kind]?.(error, context) ?? error.hint
}
