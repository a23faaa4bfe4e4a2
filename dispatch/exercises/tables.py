"""Exercises as stored: one row per drill or replay; its world lives in schema `ex_<id>`."""

from piccolo.columns import JSONB, Boolean, ForeignKey, Integer, Serial, Timestamptz, Varchar
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


EXERCISE_TABLES = [Exercise, ExercisePlay]
