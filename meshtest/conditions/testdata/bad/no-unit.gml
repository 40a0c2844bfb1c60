graph [
  node [ id 0 label "eu" ]
  node [ id 1 label "us" ]
  edge [ source 0 target 1 latency "50" packet_loss 0.0 ]
]
