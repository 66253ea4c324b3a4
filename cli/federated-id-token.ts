import type { GoogleAuth } from 'google-auth-library'

/** A Workload Identity Federation credentials file that acts as a service account (`service_account_impersonation_url`). */
export interface ImpersonatingExternalAccount {
  type: 'external_account'
  service_account_impersonation_url: string
  [field: string]: unknown
}

export function isImpersonatingExternalAccount (json: unknown): json is ImpersonatingExternalAccount {
  const file = json as Partial<ImpersonatingExternalAccount> | null | undefined
  return file?.type === 'external_account' && typeof file.service_account_impersonation_url === 'string' &&
    file.service_account_impersonation_url.endsWith(':generateAccessToken')
}

/**
 * ID tokens for the service account `file` acts as: its federated token (Security Token Service, without the
 * impersonation step) calls IAM Credentials' generateIdToken for that account. This is what google-github-actions/auth
 * does for `token_format: id_token`; the principal needs roles/iam.workloadIdentityUser on the service account.
 */
export function federatedIdTokens (fromJSON: GoogleAuth['fromJSON'], file: ImpersonatingExternalAccount): { fetchIdToken: (audience: string) => Promise<string> } {
  const { service_account_impersonation_url: impersonation, ...direct } = file
  const federated = fromJSON(direct as Parameters<GoogleAuth['fromJSON']>[0])
  const url = impersonation.replace(/:generateAccessToken$/, ':generateIdToken')
  return {
    fetchIdToken: async audience => {
      const answer = await federated.request<{ token?: string }>({ url, method: 'POST', data: { audience, includeEmail: true } })
      if (typeof answer.data.token !== 'string' || answer.data.token === '') throw new Error('IAM Credentials answered generateIdToken without a token')
      return answer.data.token
    }
  }
}
