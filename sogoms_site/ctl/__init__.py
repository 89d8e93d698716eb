"""`sogoms ctl`: a small single-host process manager for small installs and development.

A supervisor daemon starts the site's processes (processes.py), restarts those that die
(supervisor.py), and keeps pid and state files under `$SOGOMS_VAR_DIR/run/` that the
command line (cli.py) reads. Production hosts use the systemd units of deploy/systemd/.
Part of the composition root: it starts the servers, so no app imports it.
"""
