// supply_chain.h: the supply-chain scenario played on a finished attack run (issue 7, `[supply_chain]`).
//
// Everything happens for real, on files, in run_dir/supply-chain/:
//   1. the publisher makes a key pair (keys/publisher.{pub,secret}), copies the run's clean model to the hub
//      (hub/model.bdm) and signs it; a consumer verifies it with the publisher's public key (it must pass);
//   2. the attacker tampers with the hub (tamper = swap | edit | both): swap puts the run's backdoored model there,
//      once unsigned (hub/swapped-unsigned.bdm) and once signed with the attacker's own key pair
//      (keys/attacker.*, hub/swapped-attacker-signed.bdm); edit changes one weight of the signed clean model in
//      the file bytes without re-signing (hub/edited.bdm);
//   3. a careful consumer loads every tampered file with the publisher's key: each must be refused, and the exact
//      reason is recorded; the same files are also loaded without a key, to show what verification adds;
//   4. a careless consumer deploys the swapped model without verification and screens a stream of clean and
//      triggered test inputs with the runtime monitor (defense/monitor.h), calibrated on the run's defender
//      split; the genuine (verified) hub model is screened the same way as the control;
//   5. results: summary.json, narrative.md, monitor.jsonl (the deployed model's monitor lines),
//      monitor-control.jsonl, stream.csv (what each stream index really was) and DONE, written last.
// Every file is written atomically; a folder without DONE is an unfinished scenario.
#ifndef BL_SUPPLY_CHAIN_H
#define BL_SUPPLY_CHAIN_H

#include "core/core.h"
#include "io/config.h"

// Play the scenario on run_dir (a finished attack run: DONE, model-clean.bdm, model-backdoor.bdm). threads > 0
// overrides the run's thread count; quiet = 0 prints a short summary table on stdout.
// Errors: a bad *sc (BL_ERR_USAGE), an unfinished or non-attack run (as experiment_load_run), a tampered file
// the trusted key accepts or a genuine one it refuses (BL_ERR_RUN: signing is broken), I/O failures
// (BL_ERR_RUN). On error supply-chain/DONE does not exist.
Status supply_chain_run(const char *run_dir, const CfgSupplyChain *sc, int threads, int quiet);

#endif
