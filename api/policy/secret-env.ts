import type { JobEntry } from '../catalog.js'
import { invalidArgument } from '../errors.js'
import { looksSecret } from '../../common/secret-names.js'

/**
 * With `env.refuseSecretNames`, a job takes no override whose name looks like a secret: an override's value is
 * stored in the execution, where anyone who may read the job's executions (run.executions.get) reads it back.
 */
export function refuseSecretOverride (entry: JobEntry, name: string): void {
  if (entry.env.refuseSecretNames !== true || !looksSecret(name)) return
  throw invalidArgument(`env.${name}: looks like a secret, and job "${entry.id}" takes none as an override (the value would be stored in ` +
    'the execution, readable by anyone who may read its executions); give the job a Secret Manager reference instead')
}
