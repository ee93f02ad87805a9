import { LuaScript } from './lua-script.ts';

/**
 * Server time in ms: member expiries are compared across processes, so they must come from one clock.
 * Redis 5+ replicates script effects, which is what allows TIME in a script that writes.
 */
const NOW_MS = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

/**
 * KEYS[1] counter, ARGV[1] window ms, ARGV[2] amount. Returns { count, ms left }. A counter without expiry
 * (first increment, or a key stored without ttl) gets the window, so no counter can count forever.
 */
export const INCREMENT = new LuaScript(`local count = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return { count, ttl }`);

/**
 * KEYS[1] sorted set scored by expiry time, ARGV[1] member, ARGV[2] ttl ms. Returns how many live members
 * there were before the add. Expired members are pruned first, both so that count ignores them and so a
 * set that is written but never read stays bounded; the key lives as long as its longest-lived member.
 */
export const ADD_MEMBER = new LuaScript(`${NOW_MS}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return before`);

/**
 * KEYS[1] sorted set scored by expiry time, ARGV[1] member. Returns how many live members are left, the
 * expired ones pruned so they do not count. Redis deletes the key with its last member.
 */
export const REMOVE_MEMBER = new LuaScript(`${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZCARD', KEYS[1])`);

/** KEYS[1] sorted set scored by expiry time. Drops the expired members and returns the others. */
export const LIVE_MEMBERS = new LuaScript(`${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)`);

/**
 * KEYS[1] value, ARGV[1] candidate. Stores the candidate (without ttl) unless the value held is greater or
 * equal; returns what the key holds afterwards. Compared with string.byte, never Lua's `<`: Redis sets
 * LC_COLLATE from its environment, so Lua's string comparison is strcoll, and the order would depend on
 * the server's locale rather than the bytes.
 */
export const SET_IF_GREATER = new LuaScript(`local held = redis.call('GET', KEYS[1])
local value = ARGV[1]
if held then
  if held == value then return held end
  local length = math.min(#held, #value)
  for i = 1, length do
    local a, b = string.byte(held, i), string.byte(value, i)
    if a ~= b then
      if a > b then return held end
      redis.call('SET', KEYS[1], value)
      return value
    end
  end
  -- One is a prefix of the other: the longer is greater.
  if #held > #value then return held end
end
redis.call('SET', KEYS[1], value)
return value`);
