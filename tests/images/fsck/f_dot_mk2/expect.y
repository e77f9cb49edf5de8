** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
BAD INODE NUMBER FOR '.'  I=8  OWNER=root MODE=40755
SIZE=512 MTIME=May  1 12:00 2020 
DIR=/docs

FIX? yes

** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
172 files, 20985 used, 2102 free (6 frags, 262 blocks, 0.0% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
