"""Exercises as stored: one row per drill or replay; its world lives in schema `ex_<id>`."""

from piccolo.columns import (
    JSONB,
    Array,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Exercise(Table, tablename="exercise"):
    id = Serial(primary_key=True)
    name = Varchar(length=100)
    kind = Varchar(length=10)
    schema_name = Varchar(length=63, unique=True)
    status = Varchar(length=10)
    created_at = Timestamptz()
    created_by = Varchar(length=64)
    scenario = Varchar(length=200, null=True, default=None)
    seed = Integer(null=True, default=None)
    reset_at = Timestamptz(null=True, default=None)
    deleted_at = Timestamptz(null=True, default=None)


class ExercisePlay(Table, tablename="exercise_play"):
    """A drill's live play as its process last wrote it: any process reads it (see
    `dispatch.exercises.plays`)."""

    exercise = ForeignKey(Exercise, primary_key=True)
    owner = Varchar(length=120)
    status = Varchar(length=10)
    heartbeat_at = Timestamptz()
    sim_time = Timestamptz(null=True, default=None)
    stop_requested = Boolean(default=False)
    snapshot = JSONB()


class ExerciseBatch(Table, tablename="exercise_batch"):
    """Paired seeded replays started from the drill page, as the process running them
    last wrote them (see `dispatch.exercises.batches`)."""

    id = Serial(primary_key=True)
    scenario = Varchar(length=200)
    title = Varchar(length=200)
    runs = Integer()
    policies = Array(base_column=Varchar(length=20))
    first_seed = Integer()
    jobs = Integer()
    status = Varchar(length=10)
    done = Integer(default=0)
    total = Integer()
    stop_requested = Boolean(default=False)
    summary = JSONB(null=True, default=None)
    error = Varchar(length=500, null=True, default=None)
    created_by = Varchar(length=100)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)


EXERCISE_TABLES = [Exercise, ExercisePlay, ExerciseBatch]
