/** The Pub/Sub emulator's REST surface (v1), just what the tests need: topics, push subscriptions, publish. */

export interface PubsubRest {
  project: string
  createTopic: (topic: string) => Promise<void>
  /** A push subscription to `endpoint`; Pub/Sub's retry policy kept short so redeliveries come within seconds. */
  createPushSubscription: (
    subscription: string,
    topic: string,
    endpoint: string,
    retry?: { minimumBackoff: string, maximumBackoff: string }
  ) => Promise<void>
  /** Publishes the messages in one request; returns their message ids in order. */
  publish: (topic: string, messages: Array<{ data?: unknown, attributes?: Record<string, string> }>) => Promise<string[]>
  /** Any other call of the emulator's REST API under the project (`/subscriptions/x:pull`…). */
  send: (method: string, path: string, body?: unknown) => Promise<any>
}

export function pubsubRest (hostPort: string, project: string): PubsubRest {
  const base = `http://${hostPort}/v1/projects/${project}`
  const send = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${base}${path}`, {
      method,
      ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`Pub/Sub emulator ${method} ${path}: HTTP ${res.status} ${text}`)
    return JSON.parse(text)
  }
  return {
    project,
    send,
    createTopic: async topic => { await send('PUT', `/topics/${topic}`) },
    createPushSubscription: async (subscription, topic, endpoint, retry = { minimumBackoff: '1s', maximumBackoff: '2s' }) => {
      await send('PUT', `/subscriptions/${subscription}`, {
        topic: `projects/${project}/topics/${topic}`,
        ackDeadlineSeconds: 10,
        pushConfig: { pushEndpoint: endpoint },
        retryPolicy: retry
      })
    },
    publish: async (topic, messages) => {
      const encoded = messages.map(message => ({
        ...(message.attributes !== undefined && { attributes: message.attributes }),
        ...(message.data !== undefined && { data: Buffer.from(typeof message.data === 'string' ? message.data : JSON.stringify(message.data)).toString('base64') })
      }))
      const { messageIds } = await send('POST', `/topics/${topic}:publish`, { messages: encoded }) as { messageIds: string[] }
      return messageIds
    }
  }
}

/** A Cloud Storage notification as Pub/Sub carries it (payload format JSON_API_V1): attributes plus the object resource. */
export function gcsNotification (eventType: 'OBJECT_FINALIZE' | 'OBJECT_DELETE', bucket: string, name: string, size: number): { data: unknown, attributes: Record<string, string> } {
  const generation = String(1_700_000_000_000_000 + size)
  const time = new Date().toISOString()
  return {
    attributes: {
      notificationConfig: `projects/_/buckets/${bucket}/notificationConfigs/1`,
      eventType,
      payloadFormat: 'JSON_API_V1',
      bucketId: bucket,
      objectId: name,
      objectGeneration: generation,
      eventTime: time
    },
    data: {
      kind: 'storage#object',
      id: `${bucket}/${name}/${generation}`,
      selfLink: `https://www.googleapis.com/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`,
      name,
      bucket,
      generation,
      metageneration: '1',
      contentType: 'text/csv',
      timeCreated: time,
      updated: time,
      storageClass: 'STANDARD',
      size: String(size),
      md5Hash: 'XrY7u+Ae7tCTyyK7j1rNww==',
      crc32c: 'yZRlqg==',
      etag: 'CKih16GjycICEAE='
    }
  }
}
