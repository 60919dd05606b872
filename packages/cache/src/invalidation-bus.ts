import { randomUUID } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

/** What one instance tells the others to drop from their L1. */
export interface Invalidation {
  readonly keys: readonly string[]
  readonly tags: readonly string[]
}

/**
 * Invalidations between instances over Redis pub/sub, on a connection of its own. Each
 * instance drops its L1 copies when another invalidates; after the subscription reconnects it
 * clears its whole L1, since it may have missed messages meanwhile. Never throws: a failed
 * publish is reported and the other instances' copies age out after `l1.maxAgeMs`.
 */
export class InvalidationBus {
  readonly #publisher: Redis | Cluster
  readonly #subscriber: Redis | Cluster
  readonly #channel: string
  readonly #origin = randomUUID()
  readonly #onError: (error: unknown) => void
  #subscribed = false

  constructor(
    client: Redis | Cluster,
    channel: string,
    handlers: {
      onInvalidation: (invalidation: Invalidation) => void
      onMissedMessages: () => void
      onError: (error: unknown) => void
    },
  ) {
    this.#publisher = client
    this.#channel = channel
    this.#onError = handlers.onError
    this.#subscriber = client.duplicate()
    this.#subscriber.on('error', handlers.onError)
    this.#subscriber.on('message', (_channel: string, text: string) => {
      try {
        const message = JSON.parse(text) as Invalidation & { origin: string }
        if (message.origin !== this.#origin) handlers.onInvalidation(message)
      } catch (error) {
        handlers.onError(error)
      }
    })
    this.#subscriber.on('ready', () => {
      if (this.#subscribed) handlers.onMissedMessages()
      this.#subscribed = true
    })
    this.#subscriber.subscribe(channel).catch(handlers.onError)
  }

  /** Whether the subscription is live. */
  get subscribed(): boolean {
    return this.#subscribed && this.#subscriber.status === 'ready'
  }

  /** Resolves once the subscription is live (for tests and warm-up). */
  async ready(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel)
  }

  publish(invalidation: Invalidation): void {
    const message = JSON.stringify({ ...invalidation, origin: this.#origin })
    this.#publisher.publish(this.#channel, message).catch(this.#onError)
  }

  close(): void {
    this.#subscriber.disconnect()
  }
}
