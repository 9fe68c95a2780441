"""Entry points of the background processes (rq worker, scheduler).

They build the app context once; the job functions themselves live in the domains.
``flask --app portal worker`` calls :func:`workers.rq_worker.run_worker`.
"""
