"""Local dispatcher: fires the EventBridge Scheduler schedules that moto stores but never runs.

Lists the schedules of a group, reads each target (`get_schedule`), and when an `at(...)` time has
come on an injectable clock, calls the handler mapped to the target ARN in-process with the payload
EventBridge Scheduler delivers (the target's `Input`, parsed). Failures are retried per the target's
RetryPolicy, exhausted events go to its dead-letter queue, then the schedule is deleted
(ActionAfterCompletion=DELETE) or disabled. With a :class:`SimulatedClock`, :meth:`Dispatcher.replay`
runs weeks of race weekends in seconds: the scheduler's recurring action every `step`, and every
schedule at its own instant, in time order.

Due schedules run concurrently, up to `concurrency` at once (default: the number of cores), as the cloud
runs independent Lambda invocations: the exactly-once guarantees are the services' own (claims and
conditional writes), never the dispatcher's ordering. Results are reported in a deterministic order (by
instant, then name), and `on_fire` is called in that order, one firing at a time. The workers are threads,
or processes (`worker_kind="processes"`: a FastF1 load holds the GIL most of the time, so only processes use
every core; the handler must be importable and the emulated AWS a server the workers reach, as the embedded
stack's moto server is). A :class:`WorkerPool` started ahead (before the calendar sync) and given to the
dispatcher starts its worker processes at once, each importing the handlers' modules (its `preload`) while the
caller does other work, so that no delivery pays an import. Within a batch the deliveries start longest first
(`cost`, an estimate per schedule), so that no core idles at the batch's end behind a long one; their outcomes
are still reported in the deterministic order. In a replay, the schedules due before the scheduler's next tick
(at the latest the grid point after the first of them, as when they ran one at a time) run as one such batch:
no firing reads another's session, and the tick, which reads their outcomes, sees them all finished.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import logging
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Literal

from f1common.clock import Clock, SimulatedClock, utc_now
from f1common.lambda_context import LocalContext
from f1common.settings import Settings
from scheduler.schedules import delete_schedule, list_schedule_summaries, parse_at_expression

log = logging.getLogger(__name__)

LambdaHandler = Callable[[dict[str, Any], Any], object]
Tick = Callable[[dt.datetime], "dt.datetime | None"]
IDLE = dt.datetime.max.replace(tzinfo=dt.UTC)  # a tick's answer when it has no work until something fires
WorkerKind = Literal["threads", "processes"]
Job = tuple[LambdaHandler, Any, LocalContext, int, str]  # handler, payload, context, deliveries allowed, schedule
Cost = Callable[["StoredSchedule"], float]  # a delivery's expected duration (any unit): the longest start first


@dataclass(frozen=True)
class StoredSchedule:
    name: str
    group: str
    at: dt.datetime
    state: str
    target_arn: str
    input: str
    max_retries: int
    dlq_arn: str | None
    action_after_completion: str
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Firing:
    """One schedule delivered to its handler."""

    schedule: str
    at: dt.datetime
    fired_at: dt.datetime
    target_arn: str
    payload: Any
    attempts: int
    ok: bool
    result: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Delivery:
    """How the deliveries of one schedule ended: the last attempt's result, or its error."""

    attempts: int
    error: str | None = None
    result: Any = None


def deliver(handler: LambdaHandler, payload: Any, context: LocalContext, allowed: int, schedule: str) -> Delivery:
    """Invokes the target until it succeeds or `allowed` deliveries failed (EventBridge Scheduler's
    RetryPolicy); runs in a worker."""
    error: str | None = None
    for attempt in range(1, allowed + 1):
        try:
            return Delivery(attempts=attempt, result=handler(payload, context))
        except Exception as exc:  # the handler failed: EventBridge Scheduler retries, then dead-letters
            error = f"{type(exc).__name__}: {exc}"
            log.warning("target invocation failed", extra={"schedule": schedule, "attempt": attempt, "error": error})
    return Delivery(attempts=allowed, error=error)


def _returned(future: Future[Delivery] | None) -> bool:
    return future is not None and future.done() and not future.cancelled() and future.exception() is None


def _warm(preload: Sequence[str]) -> None:
    """A worker process's start: imports what its deliveries need, so that the first one pays no import. An entry
    ``module:function`` imports the module, then calls the function (no arguments): the handler's init phase."""
    for entry in preload:
        module, _, function = entry.partition(":")
        imported = importlib.import_module(module)
        if function:
            getattr(imported, function)()


def _ready() -> int:
    return os.getpid()


class WorkerPool:
    """The dispatcher's workers. A process that dies mid-delivery (killed, out of memory) breaks a process pool,
    and which of the deliveries in flight it was is not known: none of them is charged a crash, and the batch's
    deliveries not returned yet then run one at a time on a new pool, so a crash is charged to the delivery that
    caused it. A schedule whose delivery crashed as many times as it allows deliveries is dead-lettered.

    The broken pool's other processes die with it, as killed Lambdas: an ingestion that had claimed its session
    finds the claim still held when it runs again (ClaimHeld, until the claim expires), so its deliveries may be
    spent and the schedule dead-lettered. Its session is then recovered as any killed run's is: the scheduler
    re-drives it once overdue and the new attempt takes the expired claim over (tests/reliability).

    Worker processes import `preload` (and call its ``module:function`` entries) when they start (:func:`_warm`);
    :meth:`start` starts them all at once."""

    def __init__(self, size: int, kind: WorkerKind, preload: Sequence[str] = ()) -> None:
        self.size, self.kind, self.preload = size, kind, tuple(preload)
        self._executor: Executor | None = None

    def _get(self) -> Executor:
        if self._executor is None:
            if self.kind == "processes":  # spawned: a fork would copy the parent's threads' locks (moto's server)
                context = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(
                    max_workers=self.size,
                    mp_context=context,
                    initializer=_warm,
                    initargs=(self.preload,),
                )
            else:
                self._executor = ThreadPoolExecutor(max_workers=self.size)
        return self._executor

    def start(self) -> WorkerPool:
        """Starts every worker now (each process imports `preload` meanwhile); returns without waiting for them."""
        executor = self._get()
        if self.kind == "processes":
            for _ in range(self.size):  # a process pool spawns a worker per submission while none is idle
                executor.submit(_ready)
        return self

    def submit(self, job: Job) -> Future[Delivery]:
        """One delivery on the workers, outside any batch (the caller awaits its outcome)."""
        return self._get().submit(deliver, *job)

    def run(self, jobs: Sequence[Job], start_order: Sequence[int] | None = None) -> Iterator[Delivery]:
        """Runs `jobs` at once (up to the pool's size), started in `start_order` (indexes; default: the jobs'
        order), and yields their outcomes in the jobs' order."""
        futures: list[Future[Delivery] | None] = [None] * len(jobs)
        for index in start_order if start_order is not None else range(len(jobs)):
            futures[index] = self._get().submit(deliver, *jobs[index])
        alone = False  # after a crash: each delivery not returned yet runs by itself
        for index, job in enumerate(jobs):
            crashes = 0
            while True:
                future = futures[index]
                if future is None:  # its turn, alone on the pool
                    future = futures[index] = self._get().submit(deliver, *job)
                try:
                    yield future.result()
                    break
                except BrokenProcessPool:
                    self.close()
                    if alone:
                        crashes += 1  # it ran by itself: the crash is its own
                    else:
                        alone = True
                        for later in range(index, len(jobs)):  # in flight on the broken pool: run again, alone
                            if not _returned(futures[later]):
                                futures[later] = None
                    log.warning("worker process died", extra={"schedule": job[4], "crashes": crashes})
                    if crashes >= job[3]:  # as many crashes as the schedule allows deliveries
                        yield Delivery(attempts=job[3], error="BrokenProcessPool: a worker process died")
                        break
                    futures[index] = None

    def close(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=True, cancel_futures=True)


class Dispatcher:
    def __init__(
        self,
        scheduler: Any,
        sqs: Any,
        group: str,
        handlers: Mapping[str, LambdaHandler],
        clock: Clock = utc_now,
        on_fire: Callable[[Firing], None] | None = None,
        concurrency: int | None = None,
        worker_kind: WorkerKind = "threads",
        cost: Cost | None = None,
        pool: WorkerPool | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.sqs = sqs
        self.group = group
        self.handlers = dict(handlers)
        self.clock = clock
        self.on_fire = on_fire
        self.concurrency = max(1, concurrency or os.cpu_count() or 1)
        self.worker_kind = worker_kind
        self.cost = cost
        self._given_pool = pool  # started by the caller, who closes it
        # each listed schedule's version and what get_schedule read of it (None: not an enabled one-time schedule)
        self._read: dict[str, tuple[tuple[Any, Any], StoredSchedule | None]] = {}
        self._pool: WorkerPool | None = None
        if pool is not None and (pool.kind, pool.size) != (worker_kind, self.concurrency):
            raise ValueError(f"the pool runs {pool.size} {pool.kind}, the dispatcher {self.concurrency} {worker_kind}")
        if worker_kind == "processes":
            for arn, handler in self.handlers.items():
                try:
                    pickle.dumps(handler)
                except Exception as exc:
                    raise TypeError(f"the handler of {arn} cannot run in a worker process: {exc}") from exc

    def schedules(self) -> list[StoredSchedule]:
        """The group's enabled one-time schedules, earliest first.

        The group is listed every time; a schedule is read (`get_schedule`) only when it is new to the dispatcher
        or its listed version changed (creation and last modification times, which ListSchedules returns: a
        schedule updated, or deleted and created again under its name, is read again)."""
        found: list[StoredSchedule] = []
        read: dict[str, tuple[tuple[Any, Any], StoredSchedule | None]] = {}
        for summary in list_schedule_summaries(self.scheduler, self.group):
            name = summary["Name"]
            version = (summary.get("CreationDate"), summary.get("LastModificationDate"))
            known = self._read.get(name)
            if known is not None and known[0] == version and None not in version:
                stored = known[1]
            else:
                stored = self._stored(name)
            read[name] = (version, stored)
            if stored is not None:
                found.append(stored)
        self._read = read  # what is no longer listed is forgotten
        found.sort(key=lambda s: (s.at, s.name))
        return found

    def _stored(self, name: str) -> StoredSchedule | None:
        """The schedule as `get_schedule` reads it; None when it is not an enabled one-time schedule."""
        raw = self.scheduler.get_schedule(Name=name, GroupName=self.group)
        if raw.get("State", "ENABLED") != "ENABLED":
            return None
        expression = raw["ScheduleExpression"]
        if not expression.startswith("at("):
            log.warning("recurring schedule ignored by the local dispatcher", extra={"schedule": name})
            return None
        target = raw["Target"]
        return StoredSchedule(
            name=name,
            group=self.group,
            at=parse_at_expression(expression, raw.get("ScheduleExpressionTimezone")),
            state=raw.get("State", "ENABLED"),
            target_arn=target["Arn"],
            input=target.get("Input", "{}"),
            max_retries=int(target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185)),
            dlq_arn=target.get("DeadLetterConfig", {}).get("Arn"),
            action_after_completion=raw.get("ActionAfterCompletion", "NONE"),
            raw=raw,
        )

    def run_due(self) -> list[Firing]:
        """Fires every schedule whose time has come on the clock (concurrently); results in time order."""
        now = self.clock()
        return self.fire_all([s for s in self.schedules() if s.at <= now])

    def fire_all(self, schedules: Sequence[StoredSchedule]) -> list[Firing]:
        """Fires `schedules` up to `concurrency` at once; returns their firings ordered by (instant, name).

        Each firing is finished (schedule completed or dead-lettered, `on_fire` called) in that order as soon
        as it and every earlier one have returned, whatever order they finished in: the caller's work on one
        firing (the loader's drain) overlaps the invocations still running. A simulated clock moves to each
        schedule's instant as it is finished (run one at a time, a handler sees its own instant on it).
        """
        ordered = sorted(schedules, key=lambda s: (s.at, s.name))
        firings: list[Firing] = []
        for schedule, outcome in zip(ordered, self._deliveries(ordered), strict=True):
            firing = self._finish(schedule, outcome)
            firings.append(firing)
            if self.on_fire is not None:
                self.on_fire(firing)
        return firings

    def fire(self, schedule: StoredSchedule) -> Firing:
        """Fires one schedule now and calls `on_fire`."""
        return self.fire_all([schedule])[0]

    @contextlib.contextmanager
    def workers(self) -> Iterator[None]:
        """Keeps one pool of workers for every batch fired inside (a process pool costs a start per worker): the
        one given to the dispatcher (started by its owner), else one made now, whose workers start with the first
        batch, and closed at the end."""
        if self._pool is not None:
            yield
            return
        if self._given_pool is not None:
            self._pool = self._given_pool
            try:
                yield
            finally:
                self._pool = None
            return
        self._pool = WorkerPool(self.concurrency, self.worker_kind)
        try:
            yield
        finally:
            pool, self._pool = self._pool, None
            pool.close()

    def _deliveries(self, ordered: Sequence[StoredSchedule]) -> Iterator[Delivery]:
        """Each schedule's delivery outcome, in order: run here one at a time, or on the workers."""
        jobs = [self._job(s) for s in ordered]
        if self.concurrency == 1 or len(ordered) < 2:
            for schedule, job in zip(ordered, jobs, strict=True):
                self._move_clock(schedule.at)
                yield deliver(*job)
            return
        start_order = None
        if self.cost is not None:
            costs = [self.cost(s) for s in ordered]
            start_order = sorted(range(len(ordered)), key=lambda i: -costs[i])  # stable: ties in (instant, name)
        with self.workers():
            assert self._pool is not None
            yield from self._pool.run(jobs, start_order)

    def _job(self, schedule: StoredSchedule) -> Job:
        handler = self.handlers.get(schedule.target_arn)
        if handler is None:
            raise LookupError(
                f"schedule {schedule.name} targets {schedule.target_arn}, which has no local handler; "
                f"mapped: {sorted(self.handlers)}"
            )
        context = LocalContext(
            function_name=schedule.target_arn.rsplit(":", 1)[-1], invoked_function_arn=schedule.target_arn
        )
        return handler, json.loads(schedule.input), context, schedule.max_retries + 1, schedule.name

    def _move_clock(self, instant: dt.datetime) -> None:
        if isinstance(self.clock, SimulatedClock) and instant > self.clock.now:
            self.clock.set(instant)

    def _finish(self, schedule: StoredSchedule, outcome: Delivery) -> Firing:
        self._move_clock(schedule.at)
        if outcome.error is not None:
            self._dead_letter(schedule, outcome.error, outcome.attempts)
        self._complete(schedule)
        firing = Firing(
            schedule=schedule.name,
            at=schedule.at,
            fired_at=self.clock(),
            target_arn=schedule.target_arn,
            payload=json.loads(schedule.input),
            attempts=outcome.attempts,
            ok=outcome.error is None,
            result=outcome.result,
            error=outcome.error,
        )
        log.info(
            "schedule fired",
            extra={
                "schedule": schedule.name,
                "at": schedule.at.isoformat(),
                "ok": firing.ok,
                "attempts": firing.attempts,
            },
        )
        return firing

    def _dead_letter(self, schedule: StoredSchedule, error: str, attempts: int) -> None:
        if schedule.dlq_arn is None:
            log.error("event dropped: no dead-letter queue", extra={"schedule": schedule.name, "error": error})
            return
        queue_url = self.sqs.get_queue_url(QueueName=schedule.dlq_arn.rsplit(":", 1)[-1])["QueueUrl"]
        schedule_arn = schedule.raw.get("Arn", schedule.name)

        def attribute(value: str) -> dict[str, str]:
            return {"DataType": "String", "StringValue": value}

        self.sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=schedule.input,
            MessageAttributes={
                "ERROR_CODE": attribute("TargetInvocationFailed"),
                "ERROR_MESSAGE": attribute(error[:1000]),
                "EXHAUSTED_RETRY_CONDITION": attribute("MaximumRetryAttempts"),
                "RETRY_ATTEMPTS": attribute(str(attempts - 1)),
                "SCHEDULE_ARN": attribute(schedule_arn),
                "TARGET_ARN": attribute(schedule.target_arn),
            },
        )
        log.error("event sent to the dead-letter queue", extra={"schedule": schedule.name, "error": error})

    def _complete(self, schedule: StoredSchedule) -> None:
        """What EventBridge Scheduler does after a delivery: deletes the schedule or disables it. One that is gone
        already (a sync moved its session, the scheduler withdrew it while it ran) is done: the batch goes on."""
        if schedule.action_after_completion == "DELETE":
            delete_schedule(self.scheduler, schedule.group, schedule.name)
            return
        raw = schedule.raw
        kwargs: dict[str, Any] = {
            "Name": schedule.name,
            "GroupName": schedule.group,
            "ScheduleExpression": raw["ScheduleExpression"],
            "FlexibleTimeWindow": raw.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            "Target": raw["Target"],
            "State": "DISABLED",
        }
        if raw.get("ScheduleExpressionTimezone"):
            kwargs["ScheduleExpressionTimezone"] = raw["ScheduleExpressionTimezone"]
        try:
            self.scheduler.update_schedule(**kwargs)
        except self.scheduler.exceptions.ResourceNotFoundException:
            return

    def replay(
        self,
        until: dt.datetime,
        step: dt.timedelta = dt.timedelta(hours=1),
        tick: Tick | None = None,
    ) -> list[Firing]:
        """Time machine: moves the simulated clock to `until`, firing schedules at their own instants.

        `tick(now)` (the scheduler's recurring action) runs every `step` on a grid from the start. It may
        return the next instant it has work (None: no idea, tick again next step), letting the replay
        skip idle ticks. That is safe because any firing (which may change the calendar) brings the next
        tick back to the grid point after it. The schedules due before that tick fire as one batch, on the
        workers (:meth:`workers` holds them for the whole replay).
        """
        clock = self.clock
        if not isinstance(clock, SimulatedClock):
            raise TypeError("replay needs a SimulatedClock")
        origin = clock.now
        firings: list[Firing] = []
        with self.workers():
            return self._replay(clock, origin, until, step, tick, firings)

    def _replay(
        self,
        clock: SimulatedClock,
        origin: dt.datetime,
        until: dt.datetime,
        step: dt.timedelta,
        tick: Tick | None,
        firings: list[Firing],
    ) -> list[Firing]:
        def grid_after(instant: dt.datetime) -> dt.datetime:  # first tick strictly after `instant`
            return origin + ((instant - origin) // step + 1) * step

        def grid_from(instant: dt.datetime) -> dt.datetime:  # first tick at or after `instant`
            return origin + -((origin - instant) // step) * step

        next_tick = origin if tick is not None else None
        while True:
            pending = self.schedules()
            candidates = [t for t in (next_tick, pending[0].at if pending else None) if t is not None]
            if not candidates:
                break
            when = max(min(candidates), clock.now)
            if when > until:
                break
            clock.set(when)
            if tick is not None and next_tick is not None and when >= next_tick:
                hint = tick(when)
                if hint is None:
                    next_tick = grid_after(when)
                elif hint > until:
                    next_tick = None  # idle until a firing changes something
                else:
                    next_tick = max(grid_after(when), grid_from(hint))
                continue  # the tick may have created schedules: list again
            # every schedule due before the first tick that could read this one's outcome runs in one batch,
            # concurrently: each firing touches its own session (the claims keep a session delivered twice
            # exactly-once), and the ticks, which read the outcomes, come at the same instants as one at a time
            if tick is None:
                batch = [s for s in pending if s.at <= until]
            else:
                following = grid_after(when)
                next_tick = following if next_tick is None else min(next_tick, following)
                batch = [s for s in pending if s.at <= until and s.at < next_tick]
            firings.extend(self.fire_all(batch))
        clock.set(max(clock.now, until))
        return firings


def scheduler_tick(settings: Settings, clients: Any, load: Callable[[int], Any] | None = None) -> Tick:
    """The scheduler's recurring action as a replay tick; returns when it next has work."""
    from scheduler.actions import run_event  # the scheduler Lambda's own action

    def tick(now: dt.datetime) -> dt.datetime | None:
        result = run_event({"action": "schedule"}, settings, clients, now=now, load=load)
        next_due = result.get("next_due")
        # no PENDING session left: nothing to do until a firing (retries follow ingestion outcomes)
        return dt.datetime.fromisoformat(next_due) if next_due else IDLE

    return tick
