#!/usr/bin/env bash
# The "### 基本命令" (basic commands) section of the seed document
# <shared>/seeds/004_02ff69b5249f83a6.txt, copied verbatim: everything between
# the marker lines below is the section's code block, indentation included.
# Its two lines of prose ("如果director..." and "---") are kept, commented out
# with a leading "#~ " so that the file stays valid bash.
#
# The start command of the seed's "* 启动" section is copied the same way
# between its own markers.
#
# seed_test.go checks that both blocks still equal the seed's, then, inside a
# private network namespace (unshare -n), starts hecd through a symlink
# ./bin/etcd with that start command (only the data directory /tmp/etcd/ is
# replaced by a temporary one) on etcd's default ports, and runs
# every command line one by one with "bash -c" (ETCDCTL_API=2, in a directory
# holding a multi-line file named upfile) and checks its output. The
# "窗口1" (window 1) watch line runs in the background until the "窗口2" (window 2)
# PUT wakes it. This file is not meant to be run as a whole: that watch
# would block.
exit 0

# ---- begin seed start ----
    ./bin/etcd -data-dir /tmp/etcd/ -name Test01
# ---- end seed start ----

# ---- begin seed block ----
    # 整个系统的key
    curl -s http://127.0.0.1:2379/v2/keys/?recursive=true

    # 插入一条K/V
    curl -s http://127.0.0.1:2379/v2/keys/message1 -XPUT -d value='hello world' | jq .

    # 获取一条K/V
    curl -s http://127.0.0.1:2379/v2/keys/message1 | jq .

    # 用ctl获得K/V
    etcdctl get message1

    # 删除一条K/V
    curl -s http://127.0.0.1:2379/v2/keys/message1 -XDELETE

    # 插入一条K/V并设置过期时间为5秒
    curl -s http://127.0.0.1:2379/v2/keys/message2 -XPUT -d value='hello etcd' -d ttl=5 | jq .

    # 监视key的变更
    # 窗口1
    curl -s http://127.0.0.1:2379/v2/keys/message2 -XPUT -d value='hello etcd 1' | jq .
    curl -s http://127.0.0.1:2379/v2/keys/message2?wait=true | jq .
    # 窗口2
    curl -s http://127.0.0.1:2379/v2/keys/message2 -XPUT -d value='hello etcd 2' | jq .

    # sorted key排序
    curl -s http://127.0.0.1:2379/v2/keys/message3 -XPOST -d value='hello etcd 1'
    curl -s http://127.0.0.1:2379/v2/keys/message4 -XPUT -d value='hello etcd 1'
    curl -s http://127.0.0.1:2379/v2/keys/message5 -XPUT -d value='hello etcd 1'
    curl -s http://127.0.0.1:2379/v2/keys/message3 -XPOST -d value='hello etcd 2' | jq .
#~     ---
    curl -s 'http://127.0.0.1:2379/v2/keys/message3?recursive=true&sorted=true'

    # 创建目录
    curl -s http://127.0.0.1:2379/v2/keys/message7 -XPUT -d dir=true

    # 删除目录
    curl -s 'http://127.0.0.1:2379/v2/keys/message7?dir=true' -XDELETE
#~     如果director里面已经包含keys了，则必须增加recursive=true参数
    curl -s 'http://127.0.0.1:2379/v2/keys/message7?recursive=true' -XDELETE

    # 在目录中创建key
    curl -s http://127.0.0.1:2379/v2/keys/message7/message_key -XPUT -d value='this is a key in directory'

    # 创建一个隐藏的节点(隐藏key/隐藏directory)，我们创建一个隐藏key时使用'_'作为key的前缀即可，当你发送HTTP GET请求时，隐藏key并不会被显示出来
    curl -s http://127.0.0.1:2379/v2/keys/_message -XPUT -d value='a hidden key'

    # 存储一些小的配置文件、json文档、xml文档
    curl -s http://127.0.0.1:2379/v2/keys/file -XPUT --data-urlencode value@upfile
# ---- end seed block ----
