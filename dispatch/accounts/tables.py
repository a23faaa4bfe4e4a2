"""Users, their refresh tokens and the record of failed logins (kept in the database so
every worker sees them)."""

from piccolo.columns import BigSerial, Boolean, Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table


class AppUser(Table, tablename="app_user"):
    id = Serial(primary_key=True)
    username = Varchar(length=64, unique=True)
    display_name = Varchar(length=100)
    password_hash = Varchar(length=200)
    role = Varchar(length=20)
    street = Varchar(length=9, null=True)
    community = Varchar(length=12, null=True)
    disabled = Boolean(default=False)
    created_at = Timestamptz()
    person_id = Integer(null=True, default=None)  # the person this user is, for field roles


class LoginFailure(Table, tablename="login_failure"):
    id = BigSerial(primary_key=True)
    username = Varchar(length=64)
    address = Varchar(length=64)
    at = Timestamptz()


class RefreshToken(Table, tablename="refresh_token"):
    """One row per refresh token issued: used once, then replaced by the next of its
    family (the tokens descending from one login); a second use revokes the family."""

    jti = Varchar(length=32, primary_key=True)
    family = Varchar(length=32)
    user_id = Integer()
    issued_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True)
    revoked_at = Timestamptz(null=True)
