// Free names the repository's examples may use, declared once. Blocks are separated by a blank
// line; an example gets the blocks it mentions (and those they mention), unless it declares
// the same name itself.

interface DB {
  users: { id: number; name: string; email: string; created_at: Date }
  profiles: { id: number; user_id: number; name: string; bio: string }
  posts: {
    id: number
    author_id: number
    author: number
    user_id: number
    title: string
    body: string
    created_at: Date
  }
  messages: { id: number; room_id: number; body: string; created_at: Date }
  t: { id: number }
}

interface User {
  id: number
  name: string
  email: string
}

declare const user: User

declare function findUser(id: number): Promise<User | undefined>

declare const post: DB['posts']

declare const config: SluiceConfig

declare const error: unknown

declare const id: number

declare const name: string

declare const userId: number

declare const key: string

declare const logger: {
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

interface Reply {
  code(status: number): Reply
  status(status: number): Reply
  header(name: string, value: string | number): Reply
  send(body?: unknown): Reply
}

declare const reply: Reply

declare const request: {
  headers: Record<string, string | undefined>
  params: Record<string, string>
}

declare const app: { get(path: string, handler: () => unknown): void }

declare function alertOnCall(message: string): void

declare const redis: Redis
