"""One measurement: `python worker.py '<job as JSON>'` prints one JSON line (scenarios.run).

Run as a script, never imported as micrograd.bench.worker: its folder comes first on
sys.path, so `import scenarios` loads the measured code as a plain file and no
micrograd is imported before the job says which (ours, or 0.1.0 from job["reference"]).
"""
import scenarios

if __name__ == "__main__":
    scenarios.run()
