import type { CivoTarget } from '../targets/civo.js'
import { isSafeApiUrl } from '../targets/civo-api.js'
import { isIPv4 } from '../targets/civo-firewall.js'
import { refused, type InputReader } from './input-reader.js'
import { Inputs, type CivoInputs } from './inputs.js'

/** The Civo target: API key, database and region, and what the action may do through the API. */
export function parseCivo(read: InputReader): ({ civo: CivoTarget } & CivoInputs) | undefined {
  const apiKey = read.secret(Inputs.CivoApiKey)
  const database = read.text(Inputs.CivoDatabase)
  if (!apiKey && !database) return undefined
  if (!apiKey || !database)
    throw refused('civo-api-key and civo-database go together', 'set both, or give target-url instead')
  const region = read.text(Inputs.CivoRegion)
  if (!region) throw refused('civo-region is empty', 'name the region the database runs in, e.g. LON1')
  const apiUrl = read.text(Inputs.CivoApiUrl) || 'https://api.civo.com'
  if (!/^https?:\/\//.test(apiUrl) || !URL.canParse(apiUrl)) {
    throw refused(`${Inputs.CivoApiUrl} is not a URL`, 'leave it empty for https://api.civo.com')
  }
  if (!isSafeApiUrl(apiUrl))
    throw refused(
      `${Inputs.CivoApiUrl} is plain http to another machine: the API key would travel in clear`,
      'use its https:// address, or leave it empty for https://api.civo.com'
    )
  return { civo: { apiKey, database, region, apiUrl }, firewall: parseFirewall(read), create: parseCreate(read) }
}

function parseFirewall(read: InputReader): CivoInputs['firewall'] {
  if (read.choice(Inputs.CivoFirewall, ['open', 'off'] as const, 'open') === 'off') return undefined
  const runnerIp = read.text(Inputs.RunnerIp) || undefined
  if (runnerIp && !isIPv4(runnerIp))
    throw refused(`${Inputs.RunnerIp} is "${runnerIp}"`, 'give an IPv4 address such as 203.0.113.7, or leave it empty')
  const ipEchoUrl = read.text(Inputs.IpEchoUrl) || 'https://api.ipify.org'
  // Whoever could change the answer could have the firewall opened to their own address.
  if (!isSafeApiUrl(ipEchoUrl))
    throw refused(
      `${Inputs.IpEchoUrl} is not an https:// URL`,
      "give an https:// service that answers with the caller's IPv4 address, or leave it empty for https://api.ipify.org"
    )
  return { runnerIp, ipEchoUrl }
}

function parseCreate(read: InputReader): CivoInputs['create'] {
  if (!read.boolean(Inputs.CivoCreate, false)) return undefined
  const size = read.text(Inputs.CivoSize) || 'g3.db.small'
  const version = read.text(Inputs.CivoPgVersion) || undefined
  if (version && !/^\d{1,2}(\.\d+)?$/.test(version))
    throw refused(`${Inputs.CivoPgVersion} is "${version}"`, 'give a major such as 17, or leave it empty')
  // Civo takes some minutes to build a database; half an hour means something is wrong.
  return { size, version, waitSeconds: 1800 }
}
