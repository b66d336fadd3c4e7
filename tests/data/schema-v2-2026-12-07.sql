-- SPDX-License-Identifier: Apache-2.0
-- A data dir's database as the daemon of commit e53d1e5 (schema version 2,
-- attendance and recording tables made by their modules) left it, for
-- test-migrate. Made on 2026-12-07 by running that build's kringkast on an
-- empty data dir with one configured room ("lecture", source
-- testsrc-small, record=true) and KRINGKAST_ADMIN_TOKEN set; through the
-- API: room "anatomy" created, its attendance settings, access mode,
-- one invited person (CSV), recording retention and one planned session
-- set; a party of two joined "lecture" and one aiortc viewer watched it
-- for 3 s; then SIGTERM, and python3's sqlite3 iterdump(). Not edited.
BEGIN TRANSACTION;
CREATE TABLE att_access (  room_id TEXT PRIMARY KEY,  access TEXT NOT NULL);
INSERT INTO "att_access" VALUES('anatomy','invitation');
CREATE TABLE att_checkins (  participant_id TEXT PRIMARY KEY,  room_id TEXT NOT NULL,  party_id TEXT NOT NULL,  checked_in_at INTEGER NOT NULL,  receipt_hash TEXT NOT NULL UNIQUE);
CREATE TABLE att_code_answers (  session_id TEXT NOT NULL,  party_id TEXT NOT NULL,  participant_id TEXT,  answered_at INTEGER NOT NULL);
CREATE TABLE att_codes (  session_id TEXT PRIMARY KEY,  room_id TEXT NOT NULL,  code TEXT NOT NULL,  revealed_at INTEGER NOT NULL);
CREATE TABLE att_connections (  resource_id TEXT PRIMARY KEY,  room_id TEXT NOT NULL,  party_id TEXT NOT NULL,  connected_at INTEGER NOT NULL,  alive_at INTEGER NOT NULL,  left_at INTEGER,  reason TEXT);
INSERT INTO "att_connections" VALUES('esPZn2LmZa5rJvhl','lecture','f28a8655-c49c-4689-929b-56af6959a45b',1796631020233830,1796631023218918,1796631023218918,'closed');
CREATE TABLE att_events (  seq INTEGER PRIMARY KEY,  room_id TEXT NOT NULL,  kind TEXT NOT NULL,  subject TEXT NOT NULL,  party_id TEXT,  at INTEGER NOT NULL,  wall_at INTEGER NOT NULL,  detail TEXT);
INSERT INTO "att_events" VALUES(1,'lecture','session-open','63108772-630b-40be-8c6c-c553dd8f67a7',NULL,1796631019946357,1796631019946360,NULL);
INSERT INTO "att_events" VALUES(2,'lecture','connect','esPZn2LmZa5rJvhl','f28a8655-c49c-4689-929b-56af6959a45b',1796631020233830,1796631020233832,NULL);
INSERT INTO "att_events" VALUES(3,'lecture','leave','esPZn2LmZa5rJvhl','f28a8655-c49c-4689-929b-56af6959a45b',1796631023218918,1796631023218920,'closed');
INSERT INTO "att_events" VALUES(4,'lecture','session-close','63108772-630b-40be-8c6c-c553dd8f67a7',NULL,1796631025302698,1796631025302700,NULL);
CREATE TABLE att_overrides (  session_id TEXT NOT NULL,  participant_id TEXT NOT NULL,  completed INTEGER NOT NULL,  reason TEXT NOT NULL,  decided_by TEXT NOT NULL,  decided_at INTEGER NOT NULL,  PRIMARY KEY (session_id, participant_id));
CREATE TABLE att_people (  participant_id TEXT PRIMARY KEY,  room_id TEXT NOT NULL,  party_id TEXT NOT NULL,  email TEXT,  hpr TEXT,  invited_at INTEGER NOT NULL,  token_issued_at INTEGER NOT NULL);
INSERT INTO "att_people" VALUES('6eb5c696-cca4-4ce5-b8d7-3d0842d6aab5','anatomy','ca06bab5-dd6c-49bd-982d-d06a7f5f8495','ase@example.no','1234567',1796631019970523,1796631019970523);
CREATE TABLE att_prompt_answers (  prompt_id TEXT NOT NULL,  party_id TEXT NOT NULL,  participant_id TEXT,  answered_at INTEGER NOT NULL);
CREATE TABLE att_prompts (  id TEXT PRIMARY KEY,  session_id TEXT NOT NULL,  room_id TEXT NOT NULL,  issued_at INTEGER NOT NULL);
CREATE TABLE att_sessions (  id TEXT PRIMARY KEY,  room_id TEXT NOT NULL,  started_at INTEGER NOT NULL,  ended_at INTEGER,  alive_at INTEGER NOT NULL,  completion_ratio REAL NOT NULL,  grace_s INTEGER NOT NULL,  max_lateness_s INTEGER,  require_code INTEGER NOT NULL,  prompts INTEGER NOT NULL,  prompt_window_s INTEGER NOT NULL,  prompt_interval_s INTEGER,  scheduled_start INTEGER);
INSERT INTO "att_sessions" VALUES('63108772-630b-40be-8c6c-c553dd8f67a7','lecture',1796631019946357,1796631025302698,1796631025302698,0.8,60,NULL,0,0,180,900,NULL);
CREATE TABLE att_settings (  room_id TEXT PRIMARY KEY,  completion_ratio REAL,  grace_s INTEGER NOT NULL,  max_lateness_s INTEGER,  require_code INTEGER NOT NULL,  prompts INTEGER NOT NULL,  prompt_window_s INTEGER NOT NULL,  retention_days INTEGER NOT NULL,  prompt_interval_s INTEGER);
INSERT INTO "att_settings" VALUES('anatomy',NULL,30,600,0,0,180,0,900);
CREATE TABLE participants (  id TEXT PRIMARY KEY,  party_id TEXT NOT NULL REFERENCES parties (id) ON DELETE CASCADE,  room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,  ord INTEGER NOT NULL,  name TEXT NOT NULL,  workplace TEXT NOT NULL DEFAULT '',  created_at INTEGER NOT NULL,  UNIQUE (party_id, ord));
INSERT INTO "participants" VALUES('6eb5c696-cca4-4ce5-b8d7-3d0842d6aab5','ca06bab5-dd6c-49bd-982d-d06a7f5f8495','anatomy',0,'Åse Ødegård','Gjøvik sjukehus',1796631019970526);
INSERT INTO "participants" VALUES('0791df97-88f6-4bfe-8672-4c517d0a08f7','f28a8655-c49c-4689-929b-56af6959a45b','lecture',0,'Kari Nordmann','Hamar',1796631019974654);
INSERT INTO "participants" VALUES('ff690e48-ad4b-4916-a99a-8fa0f240ddec','f28a8655-c49c-4689-929b-56af6959a45b','lecture',1,'Per Hansen','Hamar',1796631019974654);
CREATE TABLE parties (  id TEXT PRIMARY KEY,  room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,  token_hash TEXT NOT NULL UNIQUE,  name TEXT NOT NULL,  workplace TEXT NOT NULL DEFAULT '',  created_at INTEGER NOT NULL);
INSERT INTO "parties" VALUES('ca06bab5-dd6c-49bd-982d-d06a7f5f8495','anatomy','79ef6f28f3bfda57add0bf790e10cc877e523ecadacc383bc45eb6ec313c499e','Åse Ødegård','Gjøvik sjukehus',1796631019970526);
INSERT INTO "parties" VALUES('f28a8655-c49c-4689-929b-56af6959a45b','lecture','05890b24a7a0004a51f4739317ff351e5fcbb1e4d78fbff6e8f3b5e2f270c135','Kari Nordmann','Hamar',1796631019974654);
CREATE TABLE recording_pauses (  session_id TEXT NOT NULL,  paused_at INTEGER NOT NULL,  resumed_at INTEGER,  PRIMARY KEY (session_id, paused_at));
CREATE TABLE recording_settings (  room_id TEXT PRIMARY KEY,  retention_days INTEGER NOT NULL);
INSERT INTO "recording_settings" VALUES('anatomy',30);
CREATE TABLE recordings (  session_id TEXT PRIMARY KEY,  room_id TEXT NOT NULL,  path TEXT,  content_type TEXT,  video_codec TEXT,  audio_codec TEXT,  state TEXT NOT NULL,  error TEXT,  started_at INTEGER NOT NULL,  ended_at INTEGER,  duration_us INTEGER NOT NULL DEFAULT 0,  size INTEGER NOT NULL DEFAULT 0);
INSERT INTO "recordings" VALUES('63108772-630b-40be-8c6c-c553dd8f67a7','lecture','63108772-630b-40be-8c6c-c553dd8f67a7.webm','video/webm','VP8','opus','finished',NULL,1796631019946360,1796631025304232,5333332,60656);
CREATE TABLE rooms (  id TEXT PRIMARY KEY,  title TEXT NOT NULL,  record INTEGER NOT NULL DEFAULT 0,  completion_ratio REAL NOT NULL,  host_token TEXT NOT NULL,  source TEXT NOT NULL DEFAULT 'whip',  source_uri TEXT,  created_at INTEGER NOT NULL);
INSERT INTO "rooms" VALUES('lecture','Test lecture',1,0.8,'RXVcVNEJIbEQceFJ0fyTc3s97c8ILgyI4vblf8OXiqU','testsrc-small',NULL,1796631019906942);
INSERT INTO "rooms" VALUES('anatomy','Anatomy 101',1,0.8,'0Expd82Ka4daHAc9uB3rjeZgcbjIhkqXEen9WqE4i-Y','whip',NULL,1796631019966496);
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO "schema_version" VALUES(2);
CREATE TABLE "sessions" (  id TEXT PRIMARY KEY,  room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,  started_at INTEGER,  ended_at INTEGER,  recording TEXT,  scheduled_start INTEGER,  scheduled_end INTEGER,  CHECK ((scheduled_start IS NULL) = (scheduled_end IS NULL)),  CHECK (started_at IS NOT NULL OR scheduled_start IS NOT NULL));
INSERT INTO "sessions" VALUES('63108772-630b-40be-8c6c-c553dd8f67a7','lecture',1796631019946360,1796631025302700,NULL,NULL,NULL);
INSERT INTO "sessions" VALUES('59956d35-f068-4cc6-a4cf-e367b645d2db','anatomy',NULL,NULL,NULL,1796717419000000,1796721019000000);
CREATE INDEX parties_room ON parties (room_id);
CREATE INDEX participants_room ON participants (room_id);
CREATE INDEX sessions_room ON sessions (room_id, started_at);
CREATE INDEX sessions_schedule ON sessions (room_id, scheduled_start);
CREATE INDEX att_events_room ON att_events (room_id, at);
CREATE INDEX att_connections_room  ON att_connections (room_id, connected_at);
CREATE INDEX att_connections_party  ON att_connections (party_id);
CREATE INDEX att_sessions_room  ON att_sessions (room_id, started_at);
CREATE INDEX att_people_room ON att_people (room_id);
CREATE INDEX att_checkins_party ON att_checkins (party_id);
CREATE INDEX att_code_answers_session  ON att_code_answers (session_id, party_id);
CREATE INDEX att_prompts_session  ON att_prompts (session_id, issued_at);
CREATE INDEX att_prompt_answers_prompt  ON att_prompt_answers (prompt_id, party_id);
CREATE INDEX recordings_room  ON recordings (room_id, started_at);
COMMIT;
