"""The Lua scripts of the shared Redis job store (`redis_store.RedisJobStore`): each write that must not race
another worker (queue a job, claim it, end it, store its images) runs as one script on the server, so a worker
whose lease was taken over can neither end a job again nor overwrite its result. Kept apart from the store class
so the store reads as Python and the scripts as the one place the key layout is written in Lua.
"""

from __future__ import annotations

from .jobs import COMPLETE, FAILED
from .store import INPUT_BLOB

# The scripts name jobs.py's status words (received, not_started, complete, failed) and redis_store's key names
# (job:, blob:, token:, active:, states, totals under the prefix each call passes).
# Shared Lua: the bookkeeping of a job that becomes final (its keys start their TTL, the inputs and the graph go,
# its owner's rate-limit slot frees, the per-state totals count it).
_FINALIZE = f"""
local function finalize(job, prefix, new, ttl)
  local id = redis.call('HGET', job, 'id')
  local owner = redis.call('HGET', job, 'owner')
  local blob = prefix .. 'blob:' .. id
  redis.call('HDEL', prefix .. 'states', id)
  redis.call('HINCRBY', prefix .. 'totals', new, 1)
  redis.call('ZREM', prefix .. 'active:' .. owner, id)
  redis.call('HDEL', job, 'graph')
  for _, name in ipairs(redis.call('HKEYS', blob)) do
    if string.sub(name, 1, {len(INPUT_BLOB)}) == '{INPUT_BLOB}' then redis.call('HDEL', blob, name) end
  end
  redis.call('EXPIRE', job, ttl)
  redis.call('EXPIRE', prefix .. 'token:' .. redis.call('HGET', job, 'token'), ttl)
  redis.call('EXPIRE', blob, ttl)
end
local function is_final(status) return status == '{COMPLETE}' or status == '{FAILED}' end
"""

# KEYS[1] job; ARGV prefix, fenced ('1'/'0'), claim, ttl, n, then n name/value pairs of the result to find the job
# by (find:<api>:<name>:<value>), then field/value pairs. 1 = written, 0 = refused (the job is gone or final, or
# the claim is not the current one).
TRANSITION = _FINALIZE + """
local job = KEYS[1]
local prefix, fenced, claim, ttl, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local status = redis.call('HGET', job, 'status')
if not status or is_final(status) then return 0 end
if fenced == '1' and redis.call('HGET', job, 'claim') ~= claim then return 0 end
local new = nil
for i = 6 + 2 * n, #ARGV, 2 do
  redis.call('HSET', job, ARGV[i], ARGV[i + 1])
  if ARGV[i] == 'status' then new = ARGV[i + 1] end
end
local id, api = redis.call('HGET', job, 'id'), redis.call('HGET', job, 'api')
for i = 6, 5 + 2 * n, 2 do
  redis.call('SET', prefix .. 'find:' .. api .. ':' .. ARGV[i] .. ':' .. ARGV[i + 1], id, 'EX', ttl)
end
if new and is_final(new) then
  finalize(job, prefix, new, ttl)
elseif new then
  redis.call('HSET', prefix .. 'states', id, new)
end
return 1
"""

# KEYS[1] job; ARGV prefix, graph, now. Queues a received job: its keys stop expiring, its slot holds.
ENQUEUE = """
local job = KEYS[1]
local prefix = ARGV[1]
if redis.call('HGET', job, 'status') ~= 'received' then return 0 end
local id = redis.call('HGET', job, 'id')
redis.call('HSET', job, 'graph', ARGV[2], 'status', 'not_started', 'updated', ARGV[3])
redis.call('PERSIST', job)
redis.call('PERSIST', prefix .. 'token:' .. redis.call('HGET', job, 'token'))
redis.call('PERSIST', prefix .. 'blob:' .. id)
redis.call('ZADD', prefix .. 'active:' .. redis.call('HGET', job, 'owner'), '+inf', id)
redis.call('HSET', prefix .. 'states', id, 'not_started')
redis.call('XADD', prefix .. 'queue', '*', 'job', id)
return 1
"""

# KEYS[1] job, KEYS[2] stream; ARGV prefix, group, entry, token, consumer, max_attempts, now, ttl, message.
# {0}: the job is gone or over (entry acknowledged); {2, n}: attempts used up, now failed; {1, n, graph}: run it.
CLAIM = _FINALIZE + """
local job, stream = KEYS[1], KEYS[2]
local prefix, group, entry, token, consumer = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local max_attempts, now, ttl, message = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8]), ARGV[9]
local status = redis.call('HGET', job, 'status')
if not status or is_final(status) then
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
  return {0}
end
local n = redis.call('HINCRBY', job, 'attempts', 1)
if n > max_attempts then
  redis.call('HSET', job, 'status', 'failed', 'error', message, 'updated', now, 'claim', '')
  finalize(job, prefix, 'failed', ttl)
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
  return {2, n}
end
redis.call('HSET', job, 'claim', token, 'worker', consumer, 'status', 'not_started', 'updated', now)
redis.call('HSET', prefix .. 'states', redis.call('HGET', job, 'id'), 'not_started')
return {1, n, redis.call('HGET', job, 'graph')}
"""

# KEYS[1] stream; ARGV group, entry, consumer. Resets the entry's idle time if this consumer still holds it.
RENEW = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""

# KEYS[1] job, KEYS[2] blob; ARGV fenced, claim, then name/data pairs. The blob lives as long as its job.
PUT_BLOBS = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if ARGV[1] == '1' and (redis.call('HGET', KEYS[1], 'claim') ~= ARGV[2] or status == 'complete'
    or status == 'failed') then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
"""
