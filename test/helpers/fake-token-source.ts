import type { TokenSource } from '../../api/google/token.js'

/** A TokenSource that counts how often it was asked. */
export class FakeTokenSource implements TokenSource {
  calls = 0
  constructor (readonly token = 'ya29.test-token') {}

  async getToken (): Promise<string> {
    this.calls++
    return this.token
  }
}
