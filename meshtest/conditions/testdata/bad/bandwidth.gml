graph [
  node [ id 0 label "eu" host_bandwidth_up "100 MB" ]
  edge [ source 0 target 0 latency "1 ms" ]
]
