/**
 * Asking the NameServers for a topic's route, as Java's `MQClientAPIImpl.getTopicRouteInfoFromNameServer`:
 * one NameServer at a time, the next after a failure (the one that answered is asked first next time).
 */
import { RemotingCode, RemotingCommand, RouteData } from "@rocketmq-effect/remoting"
import type * as RemotingPool from "@rocketmq-effect/remoting/RemotingPool"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** Why no route came back: the NameServers said the topic does not exist, or none could be asked. */
export type RouteFailure =
  | { readonly _tag: "NotFound"; readonly code: number; readonly remark: string | undefined }
  | { readonly _tag: "Unreachable"; readonly cause: unknown }

/** `"a:9876;b:9876"` → addresses; empty entries dropped. */
export const parseNameServers = (text: string): Array<string> =>
  text.split(";").map((part) => part.trim()).filter((part) => part.length > 0)

export const validAddress = (address: string): boolean => {
  const colon = address.lastIndexOf(":")
  if (colon <= 0) return false
  const port = Number(address.slice(colon + 1))
  return Number.isInteger(port) && port > 0 && port < 65536
}

export class NameServers {
  private preferred = 0

  constructor(
    private readonly pool: RemotingPool.RemotingPoolService,
    readonly addresses: ReadonlyArray<string>,
    private readonly timeout: Duration.Duration
  ) {}

  /** The route of `topic` (`None` when the NameServers do not know it), each NameServer asked within `timeout`. */
  route(
    topic: string,
    timeout: Duration.Duration = this.timeout
  ): Effect.Effect<Option.Option<RouteData.TopicRouteData>, RouteFailure> {
    return Effect.suspend(() => {
      const start = this.preferred
      const tryAt = (
        i: number,
        last: unknown
      ): Effect.Effect<Option.Option<RouteData.TopicRouteData>, RouteFailure> => {
        if (i >= this.addresses.length) return Effect.fail({ _tag: "Unreachable", cause: last })
        const index = (start + i) % this.addresses.length
        const address = this.addresses[index]!
        return this.pool.invoke(
          address,
          RemotingCommand.request(RemotingCode.RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic } }),
          { timeout }
        ).pipe(
          Effect.matchEffect({
            onFailure: (error) => tryAt(i + 1, error),
            onSuccess: (response): Effect.Effect<Option.Option<RouteData.TopicRouteData>, RouteFailure> => {
              this.preferred = index
              if (response.code === RemotingCode.ResponseCode.TOPIC_NOT_EXIST) return Effect.succeed(Option.none())
              if (response.code !== RemotingCode.ResponseCode.SUCCESS) {
                return Effect.fail({ _tag: "NotFound", code: response.code, remark: response.remark })
              }
              return RouteData.decodeTopicRouteData(response.body).pipe(
                Effect.map(Option.some),
                Effect.mapError((cause): RouteFailure => ({ _tag: "Unreachable", cause }))
              )
            }
          })
        )
      }
      return tryAt(0, undefined)
    })
  }
}

export const describeRouteFailure = (failure: RouteFailure): unknown =>
  failure._tag === "Unreachable" ? failure.cause : `${failure.code} ${failure.remark ?? ""}`
