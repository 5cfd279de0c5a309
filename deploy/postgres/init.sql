-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d).
-- The source database (lienthong, the civil-servant database captured by source-postgres) is
-- created by POSTGRES_DB; the store's materialised master data and the audit log get their own.
CREATE DATABASE lienthong_store OWNER lienthong;
