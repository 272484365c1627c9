"""Dataset schemas: one pydantic row model per landed dataset, the single source of truth.

Everything else is derived from the row models: the pyarrow schema of the landed Parquet files
(:meth:`DatasetSpec.arrow_schema`), the typed column list that the loader turns into staging DDL
(:meth:`DatasetSpec.columns`), and the natural key used for idempotent merges.

Conventions: snake_case columns; timestamps are UTC (`timestamp[us, UTC]`); durations are integer
milliseconds in columns ending `_ms`; temperatures in °C; nullable columns are `X | None`.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Mapping
from enum import Enum
from typing import Any, Union, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field


class Dataset(str, Enum):
    """Names of the landed datasets (the `dataset=` partition and the staging table stem)."""

    SCHEDULE = "schedule"
    LAPS = "laps"
    RESULTS = "results"
    DRIVERS = "drivers"
    WEATHER = "weather"
    RACE_CONTROL = "race_control"
    ERGAST_RACES = "ergast_races"
    ERGAST_CIRCUITS = "ergast_circuits"
    ERGAST_DRIVERS = "ergast_drivers"
    ERGAST_CONSTRUCTORS = "ergast_constructors"
    ERGAST_RESULTS = "ergast_results"
    ERGAST_SPRINT_RESULTS = "ergast_sprint_results"
    ERGAST_QUALIFYING = "ergast_qualifying"
    ERGAST_PIT_STOPS = "ergast_pit_stops"
    ERGAST_STATUS = "ergast_status"


class Partition(str, Enum):
    """How a dataset's files are partitioned in the landing zone."""

    SESSION = "session"  # dataset=…/season=…/round=…/session=…/
    SEASON = "season"  # dataset=…/season=…/
    NONE = "none"  # dataset=…/

    @property
    def columns(self) -> tuple[str, ...]:
        """The row columns the partition is made of (its files' rows hold one value of each)."""
        return {"session": ("season", "round", "session"), "season": ("season",), "none": ()}[self.value]


class Source(str, Enum):
    FASTF1 = "fastf1"
    ERGAST = "ergast"


class ColumnType(str, Enum):
    """Logical column types; the loader maps them to warehouse types per dialect."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    DATE = "date"


_ARROW_TYPES: Mapping[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.INT: pa.int64(),
    ColumnType.FLOAT: pa.float64(),
    ColumnType.BOOL: pa.bool_(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.DATE: pa.date32(),
}

_PYTHON_TYPES: Mapping[type, ColumnType] = {
    str: ColumnType.STRING,
    int: ColumnType.INT,
    float: ColumnType.FLOAT,
    bool: ColumnType.BOOL,
    dt.datetime: ColumnType.TIMESTAMP,
    dt.date: ColumnType.DATE,
}


class Column(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    type: ColumnType
    nullable: bool
    description: str = ""

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]


class Row(BaseModel):
    """Base of every row model: strict columns, no extras."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionRow(Row):
    season: int = Field(description="Championship year")
    round: int = Field(description="Round number")
    session: str = Field(description="Session code (R, Q, S, SQ, SS, FP1-3)")


# --- FastF1 datasets ---------------------------------------------------------------------------


class ScheduleRow(Row):
    season: int = Field(description="Championship year")
    round: int = Field(description="Round number (0 = pre-season testing is never landed)")
    event_name: str = Field(description="Event name, e.g. 'Bahrain Grand Prix'")
    official_event_name: str | None = Field(description="Full official event name")
    country: str | None
    location: str | None = Field(description="Circuit location (city)")
    event_format: str | None = Field(description="conventional, sprint, sprint_qualifying, sprint_shootout")
    session: str = Field(description="Session code")
    session_name: str = Field(description="FastF1 session name, e.g. 'Sprint Qualifying'")
    session_start_utc: dt.datetime | None = Field(description="Scheduled start (UTC)")
    event_date: dt.date | None = Field(description="Date of the event's last day (race day)")
    f1_api_support: bool | None = Field(description="Whether the live-timing API covers the event")


class LapRow(SessionRow):
    driver_number: str = Field(description="Car number, as a string ('1', '44')")
    driver: str | None = Field(description="Three-letter abbreviation (absent in some older timing data)")
    team: str | None
    lap_number: int
    lap_time_ms: int | None
    sector1_ms: int | None
    sector2_ms: int | None
    sector3_ms: int | None
    session_time_ms: int | None = Field(description="Session time when the lap was set (lap end)")
    lap_start_time_utc: dt.datetime | None = Field(description="Wall-clock start of the lap (UTC)")
    speed_i1_kph: float | None
    speed_i2_kph: float | None
    speed_fl_kph: float | None
    speed_st_kph: float | None
    compound: str | None
    tyre_life: int | None = Field(description="Laps driven on this tyre set")
    fresh_tyre: bool | None
    stint: int | None
    pit_in_time_ms: int | None = Field(description="Session time of pit entry on this lap")
    pit_out_time_ms: int | None = Field(description="Session time of pit exit on this lap")
    position: int | None = Field(description="Position at the end of the lap (races only)")
    track_status: str | None = Field(description="Track status codes seen during the lap, e.g. '124'")
    is_personal_best: bool | None
    deleted: bool | None
    deleted_reason: str | None
    is_accurate: bool | None
    fastf1_generated: bool | None


class ResultRow(SessionRow):
    driver_number: str
    abbreviation: str | None
    driver_id: str | None = Field(description="Ergast driver reference, e.g. 'max_verstappen'")
    full_name: str | None
    team_name: str | None
    team_id: str | None = Field(description="Ergast constructor reference, e.g. 'red_bull'")
    position: int | None = Field(description="Finishing / qualifying position")
    classified_position: str | None = Field(description="'1'..'20' or R (retired), D, E, W, F, N")
    grid_position: int | None
    q1_ms: int | None
    q2_ms: int | None
    q3_ms: int | None
    time_ms: int | None = Field(description="Race time for the winner, gap to the winner for others")
    status: str | None = Field(description="Finished, +1 Lap, Collision, …")
    points: float | None
    laps: int | None = Field(description="Laps completed")


class DriverRow(SessionRow):
    driver_number: str
    abbreviation: str | None
    driver_id: str | None
    first_name: str | None
    last_name: str | None
    full_name: str | None
    broadcast_name: str | None
    team_name: str | None
    team_id: str | None
    team_colour: str | None = Field(description="Team colour as '#RRGGBB'")
    country_code: str | None
    headshot_url: str | None


class WeatherRow(SessionRow):
    sample_time_ms: int = Field(description="Session time of the sample")
    sample_time_utc: dt.datetime | None
    air_temp_c: float | None
    track_temp_c: float | None
    humidity_pct: float | None
    pressure_mbar: float | None
    rainfall: bool | None
    wind_speed_ms: float | None
    wind_direction_deg: int | None


class RaceControlRow(SessionRow):
    message_seq: int = Field(description="Ordinal of the message within the session (0-based)")
    time_utc: dt.datetime | None
    category: str | None = Field(description="Flag, SafetyCar, Drs, CarEvent, Other")
    message: str | None
    status: str | None
    flag: str | None
    scope: str | None = Field(description="Track, Sector, Driver")
    sector: int | None
    racing_number: str | None
    lap: int | None


# --- Ergast / Jolpica history -------------------------------------------------------------------


class ErgastRaceRow(Row):
    race_id: int
    year: int
    round: int
    circuit_id: int
    name: str
    date: dt.date | None
    time: str | None = Field(description="Race start time of day (UTC), 'HH:MM:SS'")
    url: str | None
    quali_date: dt.date | None
    quali_time: str | None
    sprint_date: dt.date | None
    sprint_time: str | None


class ErgastCircuitRow(Row):
    circuit_id: int
    circuit_ref: str
    name: str
    location: str | None
    country: str | None
    lat: float | None
    lng: float | None
    alt: int | None
    url: str | None


class ErgastDriverRow(Row):
    driver_id: int
    driver_ref: str
    number: int | None
    code: str | None
    forename: str
    surname: str
    dob: dt.date | None
    nationality: str | None
    url: str | None


class ErgastConstructorRow(Row):
    constructor_id: int
    constructor_ref: str
    name: str
    nationality: str | None
    url: str | None


class ErgastResultRow(Row):
    result_id: int
    race_id: int
    driver_id: int
    constructor_id: int
    number: int | None
    grid: int | None
    position: int | None
    position_text: str | None
    position_order: int | None
    points: float | None
    laps: int | None
    time: str | None
    milliseconds: int | None
    fastest_lap: int | None
    rank: int | None
    fastest_lap_time: str | None
    fastest_lap_speed: float | None
    status_id: int | None


class ErgastSprintResultRow(Row):
    result_id: int
    race_id: int
    driver_id: int
    constructor_id: int
    number: int | None
    grid: int | None
    position: int | None
    position_text: str | None
    position_order: int | None
    points: float | None
    laps: int | None
    time: str | None
    milliseconds: int | None
    fastest_lap: int | None
    fastest_lap_time: str | None
    status_id: int | None
    rank: int | None


class ErgastQualifyingRow(Row):
    qualify_id: int
    race_id: int
    driver_id: int
    constructor_id: int
    number: int | None
    position: int | None
    q1: str | None
    q2: str | None
    q3: str | None


class ErgastPitStopRow(Row):
    race_id: int
    driver_id: int
    stop: int
    lap: int | None
    time: str | None = Field(description="Local time of day of the stop")
    duration: str | None = Field(description="Stop duration as text (seconds, or m:ss.sss)")
    milliseconds: int | None


class ErgastStatusRow(Row):
    status_id: int
    status: str


class DatasetSpec(BaseModel):
    """Everything the pipeline needs to know about one dataset."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    dataset: Dataset
    row_model: type[Row]
    natural_key: tuple[str, ...]
    partition: Partition
    source: Source
    staging_table: str
    description: str
    source_file: str | None = Field(default=None, description="Ergast dump CSV the dataset is read from")

    @property
    def name(self) -> str:
        return self.dataset.value

    def columns(self) -> list[Column]:
        fields = self.row_model.model_fields
        return [_column(name, info.annotation, info.description or "") for name, info in fields.items()]

    @property
    def column_names(self) -> list[str]:
        return list(self.row_model.model_fields)

    def arrow_schema(self) -> pa.Schema:
        fields = [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns()]
        return pa.schema(fields, metadata={b"dataset": self.name.encode()})


def _column(name: str, annotation: Any, description: str) -> Column:
    nullable = False
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        if len(args) != 1:
            raise TypeError(f"column {name}: unsupported union {annotation!r}")
        annotation = args[0]
    try:
        col_type = _PYTHON_TYPES[annotation]
    except KeyError:
        raise TypeError(f"column {name}: unsupported type {annotation!r}") from None
    return Column(name=name, type=col_type, nullable=nullable, description=description)


_SESSION_KEY = ("season", "round", "session")

DATASETS: Mapping[Dataset, DatasetSpec] = {
    spec.dataset: spec
    for spec in [
        DatasetSpec(
            dataset=Dataset.SCHEDULE,
            row_model=ScheduleRow,
            natural_key=("season", "round", "session"),
            partition=Partition.SEASON,
            source=Source.FASTF1,
            staging_table="SCHEDULE_STAGING",
            description="Every session of a season with its scheduled UTC start (FastF1 event schedule).",
        ),
        DatasetSpec(
            dataset=Dataset.LAPS,
            row_model=LapRow,
            natural_key=(*_SESSION_KEY, "driver_number", "lap_number"),
            partition=Partition.SESSION,
            source=Source.FASTF1,
            staging_table="LAPS_STAGING",
            description="One row per driver per lap: times, sectors, speed traps, tyres, pit flags, position.",
        ),
        DatasetSpec(
            dataset=Dataset.RESULTS,
            row_model=ResultRow,
            natural_key=(*_SESSION_KEY, "driver_number"),
            partition=Partition.SESSION,
            source=Source.FASTF1,
            staging_table="RESULTS_STAGING",
            description="Session classification: positions, grid, points, status, Q1-Q3 times.",
        ),
        DatasetSpec(
            dataset=Dataset.DRIVERS,
            row_model=DriverRow,
            natural_key=(*_SESSION_KEY, "driver_number"),
            partition=Partition.SESSION,
            source=Source.FASTF1,
            staging_table="DRIVERS_INFO_STAGING",
            description="Drivers of a session with team, team colour and country.",
        ),
        DatasetSpec(
            dataset=Dataset.WEATHER,
            row_model=WeatherRow,
            natural_key=(*_SESSION_KEY, "sample_time_ms"),
            partition=Partition.SESSION,
            source=Source.FASTF1,
            staging_table="WEATHER_STAGING",
            description="Weather samples (about one a minute) during a session.",
        ),
        DatasetSpec(
            dataset=Dataset.RACE_CONTROL,
            row_model=RaceControlRow,
            natural_key=(*_SESSION_KEY, "message_seq"),
            partition=Partition.SESSION,
            source=Source.FASTF1,
            staging_table="RACE_CONTROL_STAGING",
            description="Race control messages: flags, safety car, DRS, penalties.",
        ),
        DatasetSpec(
            dataset=Dataset.ERGAST_RACES,
            row_model=ErgastRaceRow,
            natural_key=("race_id",),
            partition=Partition.NONE,
            source=Source.ERGAST,
            staging_table="ERGAST_RACES_STAGING",
            description="Ergast races (one per championship round since 1950).",
            source_file="races.csv",
        ),
        DatasetSpec(
            dataset=Dataset.ERGAST_CIRCUITS,
            row_model=ErgastCircuitRow,
            natural_key=("circuit_id",),
            partition=Partition.NONE,
            source=Source.ERGAST,
            staging_table="ERGAST_CIRCUITS_STAGING",
            description="Ergast circuits with location and coordinates.",
            source_file="circuits.csv",
        ),
        DatasetSpec(
            dataset=Dataset.ERGAST_DRIVERS,
            row_model=ErgastDriverRow,
            natural_key=("driver_id",),
            partition=Partition.NONE,
            source=Source.ERGAST,
            staging_table="ERGAST_DRIVERS_STAGING",
            description="Ergast drivers.",
            source_file="drivers.csv",
        ),
        DatasetSpec(
            dataset=Dataset.ERGAST_CONSTRUCTORS,
            row_model=ErgastConstructorRow,
            natural_key=("constructor_id",),
            partition=Partition.NONE,
            source=Source.ERGAST,
            staging_table="ERGAST_CONSTRUCTORS_STAGING",
            description="Ergast constructors (teams).",
            source_file="constructors.csv",
        ),
        DatasetSpec(
            dataset=Dataset.ERGAST_RESULTS,
            row_model=ErgastResultRow,
            natural_key=("result_id",),
            partition=Partition.NONE,
            source=Source.ERGAST,
            staging_table="ERGAST_RESULTS_STAGING",
            description="Ergast race results.",
            source_file="results.csv",
        ),
        DatasetSpec(
            dataset=Dataset.ERGAST_SPRINT_RESULTS,
            row_model=ErgastSprintResultRow,
            natural_key=("result_id",),
            partition=Partition.NONE,
            source=Source.ERGAST,
            staging_table="ERGAST_SPRINT_RESULTS_STAGING",
            description="Ergast sprint results (2021 onwards).",
            source_file="sprint_results.csv",
        ),
        DatasetSpec(
            dataset=Dataset.ERGAST_QUALIFYING,
            row_model=ErgastQualifyingRow,
            natural_key=("qualify_id",),
            partition=Partition.NONE,
            source=Source.ERGAST,
            staging_table="ERGAST_QUALIFYING_STAGING",
            description="Ergast qualifying results.",
            source_file="qualifying.csv",
        ),
        DatasetSpec(
            dataset=Dataset.ERGAST_PIT_STOPS,
            row_model=ErgastPitStopRow,
            natural_key=("race_id", "driver_id", "stop"),
            partition=Partition.NONE,
            source=Source.ERGAST,
            staging_table="ERGAST_PIT_STOPS_STAGING",
            description="Ergast pit stops (2011 onwards).",
            source_file="pit_stops.csv",
        ),
        DatasetSpec(
            dataset=Dataset.ERGAST_STATUS,
            row_model=ErgastStatusRow,
            natural_key=("status_id",),
            partition=Partition.NONE,
            source=Source.ERGAST,
            staging_table="ERGAST_STATUS_STAGING",
            description="Ergast finishing status codes.",
            source_file="status.csv",
        ),
    ]
}

SESSION_DATASETS: tuple[Dataset, ...] = tuple(d for d, s in DATASETS.items() if s.partition is Partition.SESSION)
ERGAST_DATASETS: tuple[Dataset, ...] = tuple(d for d, s in DATASETS.items() if s.source is Source.ERGAST)


def dataset_spec(name: str | Dataset) -> DatasetSpec:
    """Looks a dataset up by name, with a clear error for unknown names."""
    try:
        return DATASETS[Dataset(name)]
    except ValueError:
        valid = ", ".join(d.value for d in Dataset)
        raise ValueError(f"unknown dataset {name!r}; expected one of: {valid}") from None
