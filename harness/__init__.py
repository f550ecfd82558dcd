"""bnclaims' harness, floor by floor; each floor imports only from the floors above it in this list
(tests/harness/test_layout.py; `python benchmarks/import_layers.py --floors` draws the arrows):

    paths arrays store            where things live, the run-array schema, the content-addressed run store
    spec data nets norms engine   the numeric core (datacache: data's cache); the bytes of these five files are
                                  the store's code hash (store.harness_code_hash), so even a comment edit there
                                  re-keys every store entry
    vgg userdata routines/        experiments the engine cannot express; a routine's key hashes its module's bytes
    stats/                        tests, intervals, power, the map model, the verdict rules: functions over arrays
    declare/                      what a claim says before it runs, and the pre-registration lock (lockform)
    run/                          run keys and jobs, the runner, scheduling, the Dask executor
    kit/                          the one face claim modules import
    report/  plugin/  cli.py      presentation, pytest integration, the command line
"""
