-- Run once by the mariadb image on an empty data directory (docker-entrypoint-initdb.d).
-- The social-security database captured by source-mysql, and the rights its binlog reader
-- needs: a consistent snapshot (SELECT, RELOAD for FLUSH TABLES WITH READ LOCK) and the binlog
-- stream (REPLICATION SLAVE, REPLICATION CLIENT / BINLOG MONITOR).
CREATE DATABASE IF NOT EXISTS bhxh CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT ALL PRIVILEGES ON bhxh.* TO 'lienthong'@'%';
GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'lienthong'@'%';
