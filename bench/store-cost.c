/* store-cost.c: CPU per message of the messages table's write path (one
 * insert and its acknowledgement, each its own BEGIN IMMEDIATE ... COMMIT,
 * statements prepared once as tuturu-api does) for a given schema file, to
 * weigh what indexes and triggers on messages cost. Not built by make:
 *   cc -O2 -o /tmp/store-cost bench/store-cost.c -lsqlite3
 *   /tmp/store-cost sql/schema.sql 20000 /tmp/store-cost.db
 * (docs/bench.md). Quick and unchecked on purpose: a measurement only. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static char *slurp(const char *p){FILE*f=fopen(p,"r");fseek(f,0,SEEK_END);long n=ftell(f);rewind(f);char*b=malloc(n+1);fread(b,1,n,f);b[n]=0;fclose(f);return b;}
static double cpu(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  sqlite3*db; char p[600]; const char *path = argc > 3 ? argv[3] : "/tmp/store-cost.db"; remove(path); snprintf(p, sizeof p, "%s-wal", path); remove(p); snprintf(p, sizeof p, "%s-shm", path); remove(p);
  sqlite3_open(path,&db); sqlite3_exec(db,"PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",0,0,0);
  char*e=0; if(sqlite3_exec(db,slurp(argv[1]),0,0,&e)){fprintf(stderr,"%s\n",e);return 1;}
  sqlite3_stmt*ins,*del,*b,*c;
  sqlite3_prepare_v3(db,"INSERT INTO messages(peer_id,type,data,created) VALUES (?1,'ice','{\"candidate\":\"candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host\"}',?2)",-1,1,&ins,0);
  sqlite3_prepare_v3(db,"DELETE FROM messages WHERE peer_id=?1 AND seq<=?2",-1,1,&del,0);
  sqlite3_prepare_v3(db,"BEGIN IMMEDIATE",-1,1,&b,0); sqlite3_prepare_v3(db,"COMMIT",-1,1,&c,0);
  int n=atoi(argv[2]); char peer[32]; double t0=cpu();
  for(int i=1;i<=n;i++){snprintf(peer,sizeof peer,"p%d",i%50);
    sqlite3_step(b);sqlite3_reset(b);
    sqlite3_bind_text(ins,1,peer,-1,SQLITE_TRANSIENT);sqlite3_bind_int64(ins,2,i);
    if(sqlite3_step(ins)!=SQLITE_DONE){fprintf(stderr,"ins %s\n",sqlite3_errmsg(db));return 1;} sqlite3_reset(ins);
    sqlite3_step(c);sqlite3_reset(c);
    sqlite3_step(b);sqlite3_reset(b);
    sqlite3_bind_text(del,1,peer,-1,SQLITE_TRANSIENT);sqlite3_bind_int64(del,2,sqlite3_last_insert_rowid(db));
    sqlite3_step(del);sqlite3_reset(del);
    sqlite3_step(c);sqlite3_reset(c);}
  printf("%s: %.1f us CPU per message (insert + acknowledge, 2 commits)\n",argv[1],(cpu()-t0)/n*1e6);
  return 0;}
