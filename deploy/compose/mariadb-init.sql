-- Run once by the MariaDB image on an empty data directory (deploy/compose.yaml).
-- The control database `sogoms` and its user come from MARIADB_DATABASE/MARIADB_USER;
-- here, one database per demo tenant (sogoms_<app>, SOGOMS_TENANT_DATABASE_URL) and the
-- user's rights on every sogoms_<app> database, so a tenant added later needs only its
-- CREATE DATABASE.
CREATE DATABASE IF NOT EXISTS sogoms_prokov CHARACTER SET utf8mb4;
CREATE DATABASE IF NOT EXISTS sogoms_shop CHARACTER SET utf8mb4;
GRANT ALL PRIVILEGES ON `sogoms\_%`.* TO 'sogoms'@'%';
