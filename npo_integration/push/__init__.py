"""The push path: platform assignments to NPO enrolments, exactly once per assignment.

Faust-free, so every rule is unit-tested without a broker: ``machine`` (the
states of one enrolment), ``calls`` (the HTTP call from config + plug-in
output), ``lookup`` (resolving an unknown outcome), ``outcomes`` (what an NPO
answer means, and when to retry), ``messages`` (results and links) and
``processor`` (one event in, the calls and state changes it implies out).
"""
