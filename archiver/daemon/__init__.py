"""Running unattended: the APScheduler daemon (``scheduler``) and systemd units (``systemd``).

Nothing is imported here, so ``archiver systemd`` never loads APScheduler's scheduler.
"""
