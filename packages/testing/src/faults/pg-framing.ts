const SSL_REQUEST = 80_877_103
const GSSENC_REQUEST = 80_877_104

/**
 * Counts PostgreSQL protocol messages in one connection's two byte streams, from the framing
 * alone: the client's first messages have no type byte (int32 length, then an int32 code:
 * startup, SSL or GSS encryption request, cancel request), every later message is a type byte
 * and an int32 length that counts itself. The answer to an SSL or GSS request is one bare
 * byte; after a yes the stream is encrypted and is no longer counted. Only message headers
 * are buffered, so large rows cost nothing.
 */
export class PgFraming {
  toServer = 0
  toClient = 0
  #clientTyped = false
  #bareByteExpected = false
  #encrypted = false
  readonly #client = new Skipper()
  readonly #server = new Skipper()

  /** Feeds bytes the client sent. */
  fromClient(chunk: Buffer): void {
    let offset = 0
    while (!this.#encrypted && offset < chunk.length) {
      const typed = this.#clientTyped
      const header = this.#client.next(chunk, offset, typed ? 5 : 8)
      offset = header.offset
      if (!header.bytes) return
      if (typed) {
        this.#client.skip = header.bytes.readInt32BE(1) - 4
      } else {
        this.#client.skip = header.bytes.readInt32BE(0) - 8
        const code = header.bytes.readInt32BE(4)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) this.#bareByteExpected = true
        else this.#clientTyped = true
      }
      this.toServer += 1
    }
  }

  /** Feeds bytes the server sent. */
  fromServer(chunk: Buffer): void {
    let offset = 0
    while (!this.#encrypted && offset < chunk.length) {
      const bare = this.#bareByteExpected
      const header = this.#server.next(chunk, offset, bare ? 1 : 5)
      offset = header.offset
      if (!header.bytes) return
      this.toClient += 1
      if (bare) {
        this.#bareByteExpected = false
        const answer = String.fromCharCode(header.bytes[0] as number)
        this.#encrypted = answer === 'S' || answer === 'G'
      } else {
        this.#server.skip = header.bytes.readInt32BE(1) - 4
      }
    }
  }
}

/** One direction: skips the rest of the current message, then collects the next header. */
class Skipper {
  skip = 0
  #header: Buffer[] = []
  #headerLength = 0

  /** The next header of `size` bytes from `chunk` at `offset`, once all of it has arrived. */
  next(chunk: Buffer, offset: number, size: number): { offset: number; bytes?: Buffer } {
    const skipped = Math.min(this.skip, chunk.length - offset)
    this.skip -= skipped
    let at = offset + skipped
    if (this.skip > 0 || at >= chunk.length) return { offset: at }
    const take = Math.min(size - this.#headerLength, chunk.length - at)
    this.#header.push(chunk.subarray(at, at + take))
    this.#headerLength += take
    at += take
    if (this.#headerLength < size) return { offset: at }
    const bytes = Buffer.concat(this.#header)
    this.#header = []
    this.#headerLength = 0
    return { offset: at, bytes }
  }
}
