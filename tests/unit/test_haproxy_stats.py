"""Reading the top LB's view of its vulcands from HAProxy's CSV statistics."""

from wpcluster.clients.haproxy import parse_stats
from wpcluster.core.shape import load_shape
from wpcluster.providers.hosts.top_lb import LB_STATS_PATH, haproxy_config

HEADER = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,"
          "weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,"
          "rate_lim,rate_max,check_status,")
CSV = HEADER + """
stats,FRONTEND,,,1,1,262,1,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,1,0,1,,
vulcands,core-01,0,0,0,1,,5,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,30,0,,1,3,1,,5,,2,0,,1,L7OK,
vulcands,core-02,0,0,0,1,,5,0,0,,0,,0,0,0,0,DOWN,1,1,0,2,1,3,3,,1,3,2,,5,,2,0,,1,L4TOUT,
vulcands,core-03,0,0,0,1,,5,0,0,,0,,0,0,0,0,UP 1/2,1,1,0,1,0,30,0,,1,3,3,,5,,2,0,,1,L7TOUT,
vulcands,BACKEND,0,0,0,1,262,15,0,0,0,0,,0,0,0,0,UP,2,2,0,,0,30,0,,1,3,0,,15,,1,0,,1,,
"""


def test_each_vulcands_state_and_last_check_is_read():
    states = parse_stats(CSV)
    assert set(states) == {("vulcands", "core-01"), ("vulcands", "core-02"), ("vulcands", "core-03")}
    assert states[("vulcands", "core-02")].status == "DOWN" and states[("vulcands", "core-02")].check == "L4TOUT"
    assert states[("vulcands", "core-03")].in_rotation and not states[("vulcands", "core-02")].in_rotation


def test_the_lab_lb_serves_its_statistics():
    shape = load_shape()
    config = haproxy_config(shape)
    assert f"bind *:{shape.lab_ports['lb_stats']}" in config and f"stats uri {LB_STATS_PATH}" in config
