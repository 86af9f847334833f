"""The job queue (arq behind one module), the workers, their liveness and upkeep, the acceptance
journal, the embedded Redis.
"""
