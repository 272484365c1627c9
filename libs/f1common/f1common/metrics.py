"""The platform's CloudWatch metrics: one namespace and one name per metric.

The services emit them as EMF (AWS Lambda Powertools, dimension ``service``); the alarms of the
Pulumi stack read them. Counts unless noted.
"""

from __future__ import annotations

from f1common.names import METRICS_NAMESPACE

NAMESPACE = METRICS_NAMESPACE

# scheduler: one value per run (the hourly scheduling run, a sync, a backfill)
SESSIONS_SYNCED = "SessionsSynced"
SESSIONS_CANCELLED = "SessionsCancelled"
SESSIONS_SCHEDULED = "SessionsScheduled"
RETRIES_SCHEDULED = "RetriesScheduled"
SESSIONS_OVERDUE = "SessionsOverdue"  # SCHEDULED with no outcome long after their time (alarmed)
SESSIONS_STALE = "SessionsStale"
SESSIONS_FAILED = "SessionsFailed"  # retries exhausted this run (alarmed)
CALENDAR_ITEMS_INVALID = "CalendarItemsInvalid"  # also the loader's calendar export

# ingestion
SESSIONS_INGESTED = "SessionsIngested"
SESSIONS_NOT_AVAILABLE = "SessionsNotAvailable"
DUPLICATE_REQUESTS = "DuplicateRequests"
ORPHAN_FILES = "OrphanFiles"  # files of a run that died or lost its claim before its manifest (alarmed)
ROWS_LANDED = "RowsLanded"  # dimension `dataset`
INGESTION_DURATION = "IngestionDuration"  # seconds
BACKFILL_DURATION = "BackfillDuration"  # seconds

# loader
FILES_LOADED = "FilesLoaded"
FILES_SKIPPED = "FilesSkipped"
FILES_PENDING = "FilesPending"
FILES_QUARANTINED = "FilesQuarantined"
FILES_IGNORED = "FilesIgnored"  # keys off the landing layout (each also recorded in load_quarantine)
RECORDS_MALFORMED = "NotificationRecordsMalformed"  # notification records or bodies that name no object
ROWS_LOADED = "RowsLoaded"
CALENDAR_SESSIONS_EXPORTED = "CalendarSessionsExported"
HEALTH_FILES_LOADED = "HealthFilesLoaded"
HEALTH_FILES_FAILED = "HealthFilesFailed"
HEALTH_FILES_MISSING = "HealthFilesMissing"
HEALTH_FILES_IN_FLIGHT = "HealthFilesInFlight"
PIPES_NOT_RUNNING = "PipesNotRunning"
PIPE_PENDING_FILES = "PipePendingFiles"

# Every metric the loader emits: its consumer's (per SQS batch) and its hourly health check's. Each has an alarm
# in the AWS stack (infra/pulumi: `LOAD_HEALTH_ALARMS`; its test enumerates this tuple), and the loader's test
# checks that its code emits no metric outside it.
LOADER_METRICS: tuple[str, ...] = (
    FILES_LOADED, FILES_SKIPPED, FILES_PENDING, FILES_QUARANTINED, FILES_IGNORED, RECORDS_MALFORMED, ROWS_LOADED,
    CALENDAR_SESSIONS_EXPORTED, CALENDAR_ITEMS_INVALID,
    HEALTH_FILES_LOADED, HEALTH_FILES_FAILED, HEALTH_FILES_MISSING, HEALTH_FILES_IN_FLIGHT,
    PIPES_NOT_RUNNING, PIPE_PENDING_FILES,
)  # fmt: skip

# transformer: one value per build after a load (or scheduled/manual run)
TRANSFORM_RUNS = "TransformRuns"  # builds that started dbt
TRANSFORM_NOTHING_NEW = "TransformNothingNew"  # requests answered without starting dbt
TRANSFORM_SUCCEEDED = "TransformSucceeded"  # every successful run, dbt started or not (staleness alarm: none)
TRANSFORM_FAILED = "TransformFailed"  # dbt or a test failed (alarmed)
TRANSFORM_DURATION = "TransformDuration"  # seconds, dbt run + tests
RUNS_NOT_IN_STAGING = "RunsNotInStaging"  # landed runs not (wholly) in staging yet: retried later
SOURCES_STALE = "SourcesStale"  # `dbt source freshness` errors on the scheduled run (alarmed)
