"""bnclaims' harness, floor by floor (each imports only from the floors below it):

    spec data nets norms engine   the numeric core; their bytes are the store's code hash (store.harness_code_hash),
                                  so even a comment edit there re-keys every store entry
    vgg userdata routines/        experiments the engine cannot express; a routine's key hashes its module's bytes
    paths arrays store datacache  where things live, the run-array schema, the content-addressed store
    declare/                      what a claim says before it runs, and the pre-registration lock
    stats/                        tests, intervals, power, the map model and the verdict rules
    run/                          run keys and jobs, the runner, the executor
    kit/                          the one face claim modules import
    report/  plugin/  cli.py      presentation, pytest integration, the command line
"""
