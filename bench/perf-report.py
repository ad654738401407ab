#!/usr/bin/env python3
"""Where the broker's CPU goes, read by Linux perf (native code, V8's builtins and the kernel
included, which V8's own --cpu-prof does not see). See ARCHITECTURE.md "Read by perf".

    PROFILE_NODE_ARGS=--perf-basic-prof RSA_SIGNING=pool BENCH_PROFILE_REQUESTS=40000 npm run bench:profile &
    # once it prints "broker pid N" and the load has started:
    perf record -F 1999 -g -p N -o /tmp/perf.data -- sleep 8
    perf script -i /tmp/perf.data -F tid,ip,sym,dso > /tmp/perf.txt
    python3 bench/perf-report.py /tmp/perf.txt

Prints the samples per thread (the event loop is the thread whose id is the process id; the
two signatures run on the libuv pool), then the event loop's samples charged to the innermost
step on their stack, then its hottest leaf symbols.
"""
import collections
import re
import sys

# (step, pattern over one frame); the innermost frame of a sample that matches one decides.
STEPS = [
    ("the SP's signature verify", r'verifyOneShot'),
    ('hash updates (digests, page MAC): UTF-8 conversion and SHA-256', r'node:internal/crypto/hash'),
    # signCanonical's own frames beside its digests: mostly the Promise and the job that hand a
    # signature to the pool, also SignedInfo and the splice.
    ('signCanonical beside its digests (mostly the hand-off to the pool)', r'JS:\*?signCanonical|signAsync'),
    ('intake: XML parse', r'saxes|request-tree'),
    ('intake: binding decode', r'saml/bindings\.js'),
    ('POST body parser', r'body-parser|raw-body'),
    ('intake: the other checks', r'saml/request/|receiveAuthnRequest'),
    ('building the response', r'saml/response\.js|saml/sign\.js'),
    ('Response to bytes and base64 (postBack)', r'JS:\*?postBack'),
    ("Broker.start's own code", r'broker/(broker|session|attributes|policy)\.js'),
    ('store', r'dist/store/'),
    ('the page', r'web/(views|html|render|context)\.js'),
    ('writing the answer (res.end)', r'JS:\*?end node:_http_outgoing'),
    ('pino, prom-client, helmet, cookies', r'pino|prom-client|helmet|cookie'),
    ('the fast path', r'sso-fast|routes/saml|dist/app\.js'),
    ('HTTP parsing and reading', r'_http_common|_http_server|_http_incoming|streams/readable|llhttp'),
    ('garbage collector', r'Scaveng|MarkCompact|GarbageCollect|Heap::'),
    ('kernel', r'\[kernel'),
]


def read(path):
    samples, cur = [], None
    for line in open(path, encoding='utf-8', errors='replace'):
        if not line.strip():
            if cur:
                samples.append(cur)
            cur = None
        elif not line[0].isspace():
            cur = (int(line.split()[0]), [])
        elif cur is not None:
            parts = line.strip().split(' ', 1)
            if len(parts) > 1:
                cur[1].append(parts[1])
    if cur:
        samples.append(cur)
    return samples


def main():
    samples = read(sys.argv[1])
    by_tid = collections.Counter(t for t, _ in samples)
    total = len(samples)
    print(f'{total} samples')
    for tid, n in by_tid.most_common(6):
        print(f'  thread {tid}: {100 * n / total:5.1f} %')
    loop = min(by_tid)  # the main thread's id is the process id, the lowest
    stacks = [s for t, s in samples if t == loop]
    steps = collections.Counter()
    for s in stacks:
        step = 'other (native under the loop, no step on the stack)'
        for frame in s:
            hit = next((name for name, pat in STEPS if re.search(pat, frame)), None)
            if hit:
                step = hit
                break
        steps[step] += 1
    print(f'\nthe event loop (thread {loop}), by innermost step:')
    for name, n in steps.most_common():
        print(f'  {100 * n / len(stacks):5.1f} %  {name}')
    print('\nits hottest leaf symbols:')
    for sym, n in collections.Counter(s[0] if s else '?' for s in stacks).most_common(20):
        print(f'  {100 * n / len(stacks):5.1f} %  {sym[:110]}')


if __name__ == '__main__':
    main()
