// The plain statement of the gossip model, printed in every report (see gossip-model.ts).
export const GOSSIP_NOTE = 'every node runs its own Membership core to publish its state vector (up to ~10/s while its load changes, ' +
  'at least 1/s); dissemination is counted for all nodes as gossipsub with mesh degree D (each node sends and receives ~D-1 copies ' +
  'of every published message). The inbound side of the real core runs on observers only — coordinators, replica-set members, ' +
  'submitters and a few probes (every node up to 50 nodes) — which receive the newest vector of each tracked peer at most about once ' +
  'a second, after log_D(N) hops of latency; an observer tracks every peer while N-1 <= viewPeersMax, else a seeded sample of ' +
  'viewPeersMax peers plus the peers its roles need. Master archs send vectors to the master directly (heartbeats) or through the store.'
