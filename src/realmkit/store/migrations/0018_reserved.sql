-- Reserved for the social branch's 0018 (friends, channels, guilds), which
-- lands separately: migrations must be numbered 1..N without gaps, so this
-- branch's 0019 needs a version 18 to apply. When both branches meet, this
-- file is deleted for theirs (two files of version 18 stop every migrate,
-- so it cannot be forgotten). 0019 does not depend on anything of 0018.
CREATE SCHEMA IF NOT EXISTS social;
