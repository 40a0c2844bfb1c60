# Three regions, undirected. The direct edge eu-asia (150 ms) is longer than
# the way through us (40 + 60 ms), so, as in Shadow, the link eu-asia follows
# the shorter way: 100 ms, jitter 2 ms, loss 1-(0.99)(0.98). Only eu has a
# self-loop; within us and within asia nothing is added.
graph [
  directed 0
  node [ id 10 label "eu" host_bandwidth_up "100 Mbit" host_bandwidth_down "1 Gbit" ]
  node [ id 20 label "us" ]
  node [ id 30 label "asia" country_code "JP" ]
  edge [ source 10 target 20 latency "40 ms" jitter "2 ms" packet_loss 0.01 ]
  edge [ source 20 target 30 latency "60ms" packet_loss 0.02 ]
  edge [ source 10 target 30 latency "150 ms" packet_loss 0.0 ]
  edge [ source 10 target 10 latency "1 ms" ]
]
