"""What every handler shares: reading bodies, problems, headers, middleware, limits, outage
answers, health.
"""
