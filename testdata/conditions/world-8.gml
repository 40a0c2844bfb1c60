# Eight world regions for meshtest/conditions, a Shadow network graph.
#
# The one-way latencies are those libp2p/test-plans gives its gossipsub-interop
# Shadow runs (gossipsub-interop/network_graph.py): 2 to 7 ms within a region,
# 60 to 220 ms between. They are illustrative figures, not measured here. The
# graph is directed, as theirs is: a few pairs differ by direction
# (south_africa -> south_america 190 ms, back 195 ms). Every host gets 50 Mbit
# each way, their "fullnode" type. No loss.
graph [
  directed 1
  node [
    id 0
    label "australia"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  node [
    id 1
    label "europe"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  node [
    id 2
    label "east_asia"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  node [
    id 3
    label "west_asia"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  node [
    id 4
    label "na_east"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  node [
    id 5
    label "na_west"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  node [
    id 6
    label "south_africa"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  node [
    id 7
    label "south_america"
    host_bandwidth_up "50 Mbit"
    host_bandwidth_down "50 Mbit"
  ]
  edge [ source 0 target 0 latency "2 ms" packet_loss 0.0 ]
  edge [ source 0 target 1 latency "165 ms" packet_loss 0.0 ]
  edge [ source 0 target 2 latency "110 ms" packet_loss 0.0 ]
  edge [ source 0 target 3 latency "180 ms" packet_loss 0.0 ]
  edge [ source 0 target 4 latency "150 ms" packet_loss 0.0 ]
  edge [ source 0 target 5 latency "110 ms" packet_loss 0.0 ]
  edge [ source 0 target 6 latency "220 ms" packet_loss 0.0 ]
  edge [ source 0 target 7 latency "190 ms" packet_loss 0.0 ]
  edge [ source 1 target 0 latency "165 ms" packet_loss 0.0 ]
  edge [ source 1 target 1 latency "2 ms" packet_loss 0.0 ]
  edge [ source 1 target 2 latency "125 ms" packet_loss 0.0 ]
  edge [ source 1 target 3 latency "60 ms" packet_loss 0.0 ]
  edge [ source 1 target 4 latency "70 ms" packet_loss 0.0 ]
  edge [ source 1 target 5 latency "110 ms" packet_loss 0.0 ]
  edge [ source 1 target 6 latency "95 ms" packet_loss 0.0 ]
  edge [ source 1 target 7 latency "140 ms" packet_loss 0.0 ]
  edge [ source 2 target 0 latency "110 ms" packet_loss 0.0 ]
  edge [ source 2 target 1 latency "125 ms" packet_loss 0.0 ]
  edge [ source 2 target 2 latency "4 ms" packet_loss 0.0 ]
  edge [ source 2 target 3 latency "110 ms" packet_loss 0.0 ]
  edge [ source 2 target 4 latency "140 ms" packet_loss 0.0 ]
  edge [ source 2 target 5 latency "100 ms" packet_loss 0.0 ]
  edge [ source 2 target 6 latency "175 ms" packet_loss 0.0 ]
  edge [ source 2 target 7 latency "175 ms" packet_loss 0.0 ]
  edge [ source 3 target 0 latency "180 ms" packet_loss 0.0 ]
  edge [ source 3 target 1 latency "60 ms" packet_loss 0.0 ]
  edge [ source 3 target 2 latency "110 ms" packet_loss 0.0 ]
  edge [ source 3 target 3 latency "5 ms" packet_loss 0.0 ]
  edge [ source 3 target 4 latency "110 ms" packet_loss 0.0 ]
  edge [ source 3 target 5 latency "150 ms" packet_loss 0.0 ]
  edge [ source 3 target 6 latency "110 ms" packet_loss 0.0 ]
  edge [ source 3 target 7 latency "145 ms" packet_loss 0.0 ]
  edge [ source 4 target 0 latency "150 ms" packet_loss 0.0 ]
  edge [ source 4 target 1 latency "70 ms" packet_loss 0.0 ]
  edge [ source 4 target 2 latency "140 ms" packet_loss 0.0 ]
  edge [ source 4 target 3 latency "110 ms" packet_loss 0.0 ]
  edge [ source 4 target 4 latency "2 ms" packet_loss 0.0 ]
  edge [ source 4 target 5 latency "60 ms" packet_loss 0.0 ]
  edge [ source 4 target 6 latency "130 ms" packet_loss 0.0 ]
  edge [ source 4 target 7 latency "100 ms" packet_loss 0.0 ]
  edge [ source 5 target 0 latency "110 ms" packet_loss 0.0 ]
  edge [ source 5 target 1 latency "110 ms" packet_loss 0.0 ]
  edge [ source 5 target 2 latency "100 ms" packet_loss 0.0 ]
  edge [ source 5 target 3 latency "150 ms" packet_loss 0.0 ]
  edge [ source 5 target 4 latency "60 ms" packet_loss 0.0 ]
  edge [ source 5 target 5 latency "2 ms" packet_loss 0.0 ]
  edge [ source 5 target 6 latency "160 ms" packet_loss 0.0 ]
  edge [ source 5 target 7 latency "100 ms" packet_loss 0.0 ]
  edge [ source 6 target 0 latency "220 ms" packet_loss 0.0 ]
  edge [ source 6 target 1 latency "95 ms" packet_loss 0.0 ]
  edge [ source 6 target 2 latency "175 ms" packet_loss 0.0 ]
  edge [ source 6 target 3 latency "110 ms" packet_loss 0.0 ]
  edge [ source 6 target 4 latency "130 ms" packet_loss 0.0 ]
  edge [ source 6 target 5 latency "160 ms" packet_loss 0.0 ]
  edge [ source 6 target 6 latency "7 ms" packet_loss 0.0 ]
  edge [ source 6 target 7 latency "190 ms" packet_loss 0.0 ]
  edge [ source 7 target 0 latency "190 ms" packet_loss 0.0 ]
  edge [ source 7 target 1 latency "140 ms" packet_loss 0.0 ]
  edge [ source 7 target 2 latency "175 ms" packet_loss 0.0 ]
  edge [ source 7 target 3 latency "145 ms" packet_loss 0.0 ]
  edge [ source 7 target 4 latency "100 ms" packet_loss 0.0 ]
  edge [ source 7 target 5 latency "100 ms" packet_loss 0.0 ]
  edge [ source 7 target 6 latency "195 ms" packet_loss 0.0 ]
  edge [ source 7 target 7 latency "7 ms" packet_loss 0.0 ]
]
